package gitops

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/leynos/gitops-local/bootstrap/manifest"
)

// maxFixtureFile bounds one fixtures file.
const maxFixtureFile = 8 << 20

// ReadFixtures reads the objects of the YAML files (*.yaml, *.yml) under
// dir: objects that exist in the cluster but not in Git. A file that does
// not parse, an object without apiVersion, kind or name, a ConfigMap or
// Secret without a namespace, and an object given twice are errors naming
// the file.
func ReadFixtures(dir string) ([]manifest.Object, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("fixtures %s: %w", dir, err)
	}
	sort.Strings(files)
	var out []manifest.Object
	seen := map[string]string{}
	for _, file := range files {
		objs, err := readFixtureFile(file)
		if err != nil {
			return nil, fmt.Errorf("fixtures file %s: %w", file, err)
		}
		for _, o := range objs {
			if prev, dup := seen[o.ID()]; dup {
				return nil, fmt.Errorf("fixtures file %s: %s is also given in %s", file, o.Ref(), prev)
			}
			seen[o.ID()] = file
			out = append(out, o)
		}
	}
	return out, nil
}

func readFixtureFile(file string) ([]manifest.Object, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFixtureFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFixtureFile {
		return nil, fmt.Errorf("larger than %d bytes", maxFixtureFile)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []manifest.Object
	for n := 1; ; n++ {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		if len(m) == 0 {
			continue
		}
		o := manifest.Object{Unstructured: &unstructured.Unstructured{Object: m}, Origin: manifest.Origin{File: filepath.ToSlash(file)}}
		if o.GetAPIVersion() == "" || o.GetKind() == "" || o.GetName() == "" {
			return nil, fmt.Errorf("document %d: an object needs apiVersion, kind and metadata.name", n)
		}
		if isSubstitutionSource(o) {
			if o.GetNamespace() == "" {
				return nil, fmt.Errorf("document %d: %s has no metadata.namespace", n, o.Ref())
			}
			if _, _, err := sourceData(o); err != nil {
				return nil, fmt.Errorf("document %d: %s: %w", n, o.Ref(), err)
			}
		}
		out = append(out, o)
	}
}
