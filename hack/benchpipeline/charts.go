package main

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// unpackChart extracts a chart archive into dir once (a user's `helm pull
// --untar`) and returns the chart's folder. Dependencies that Chart.yaml
// lists but the archive does not carry are dropped from Chart.yaml, with
// their names returned: helm template refuses such a chart outright even
// when the dependency's condition disables it, and fetching it (helm
// dependency build) needs the network.
func unpackChart(archive, dir string) (string, []string, error) {
	f, err := os.Open(archive)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", archive, err)
	}
	tr := tar.NewReader(gz)
	top := ""
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", nil, fmt.Errorf("%s: %w", archive, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := filepath.Clean(h.Name)
		if !filepath.IsLocal(name) {
			return "", nil, fmt.Errorf("%s: entry %q leaves the archive", archive, h.Name)
		}
		if top == "" {
			top, _, _ = strings.Cut(filepath.ToSlash(name), "/")
		}
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", nil, err
		}
		out, err := os.Create(p)
		if err != nil {
			return "", nil, err
		}
		_, err = io.Copy(out, io.LimitReader(tr, 64<<20))
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", nil, err
		}
	}
	if top == "" {
		return "", nil, fmt.Errorf("%s: empty archive", archive)
	}
	chartDir := filepath.Join(dir, top)
	dropped, err := dropMissingDependencies(chartDir)
	return chartDir, dropped, err
}

func dropMissingDependencies(chartDir string) ([]string, error) {
	p := filepath.Join(chartDir, "Chart.yaml")
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var meta map[string]any
	if err := yaml.Unmarshal(data, &meta); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	deps, _ := meta["dependencies"].([]any)
	var kept []any
	var dropped []string
	for _, d := range deps {
		dm, _ := d.(map[string]any)
		name := str(dm["name"])
		if _, err := os.Stat(filepath.Join(chartDir, "charts", name)); err == nil {
			kept = append(kept, d)
			continue
		}
		if matches, _ := filepath.Glob(filepath.Join(chartDir, "charts", name+"-*.tgz")); len(matches) > 0 {
			kept = append(kept, d)
			continue
		}
		dropped = append(dropped, name)
	}
	if len(dropped) == 0 {
		return nil, nil
	}
	meta["dependencies"] = kept
	if len(kept) == 0 {
		delete(meta, "dependencies")
	}
	out, err := yaml.Marshal(meta)
	if err != nil {
		return nil, err
	}
	_ = os.Remove(filepath.Join(chartDir, "Chart.lock"))
	return dropped, os.WriteFile(p, out, 0o644)
}
