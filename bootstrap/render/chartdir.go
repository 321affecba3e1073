package render

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"helm.sh/helm/v4/pkg/ignore"

	"github.com/leynos/gitops-local/bootstrap/manifest"
)

// ErrOutsideChart is wrapped by CheckChartDir's error for a symbolic link
// that leads out of the chart.
var ErrOutsideChart = errors.New("symbolic link leaves the chart")

// ChartFileError is CheckChartDir's error about one file of the chart.
type ChartFileError struct {
	// File is the file's slash-separated path relative to the chart.
	File string
	Err  error
}

func (e *ChartFileError) Error() string { return e.File + ": " + e.Err.Error() }
func (e *ChartFileError) Unwrap() error { return e.Err }

// chartYAMLFiles are the files Helm's loader parses as YAML.
var chartYAMLFiles = map[string]bool{
	"Chart.yaml": true, "values.yaml": true, "Chart.lock": true,
	"requirements.yaml": true, "requirements.lock": true,
}

// CheckChartDir checks a chart directory before Helm's loader reads it.
// Helm's loader follows symbolic links wherever they lead, so that a link
// to /etc/passwd is read into the chart (and printed by .Files.Get);
// source-controller loads charts with its secureloader instead
// (source-controller v1.9.6 internal/helm/chart/secureloader), which
// refuses a link whose target is outside its root. Here the root is the
// chart directory itself: a link that is not left out by the chart's
// .helmignore and whose target (resolved in full) is
// outside dir is a *ChartFileError wrapping ErrOutsideChart, as is
// a link that does not resolve. The YAML files the loader parses are
// checked for alias expansion (manifest.CheckYAMLAliases), an error a
// *ChartFileError too.
func CheckChartDir(dir string) error {
	root, err := filepath.Abs(dir)
	if err == nil {
		root, err = filepath.EvalSymlinks(root)
	}
	if err != nil {
		return err
	}
	// The files the chart's .helmignore leaves out are never loaded: as
	// source-controller's loader, skip them before checking links. A
	// .helmignore that is a link is not read here (the walk checks it).
	rules := ignore.Empty()
	ifile := filepath.Join(root, ignore.HelmIgnore)
	if st, err := os.Lstat(ifile); err == nil && st.Mode().IsRegular() {
		if rules, err = ignore.ParseFile(ifile); err != nil {
			return &ChartFileError{File: ignore.HelmIgnore, Err: err}
		}
	}
	rules.AddDefaults()
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		// As Helm matches them: with the link's target's info.
		fi, err := os.Stat(p)
		if err != nil {
			fi, err = os.Lstat(p)
		}
		if err == nil && rules.Ignore(rel, fi) {
			if fi.IsDir() && d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := filepath.EvalSymlinks(p)
			if err != nil {
				return &ChartFileError{File: rel, Err: fmt.Errorf("%w: its target does not resolve", ErrOutsideChart)}
			}
			if !within(root, target) {
				return &ChartFileError{File: rel, Err: fmt.Errorf("%w: it points to %s; copy the file into the chart", ErrOutsideChart, target)}
			}
			// Helm's loader walks into a linked directory: one holding the
			// link would be walked again and again, until the path is too
			// long.
			if st, err := os.Stat(target); err == nil && st.IsDir() {
				if real, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil && within(target, real) {
					return &ChartFileError{File: rel, Err: errors.New("symbolic link to a directory holding it: loading the chart would walk it without end")}
				}
			}
			// A link inside the chart: its target is walked where it is.
		}
		if !d.IsDir() && chartYAMLFiles[d.Name()] {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := manifest.CheckYAMLAliases(data); err != nil {
				return &ChartFileError{File: rel, Err: err}
			}
		}
		return nil
	})
}

// within reports whether p is root or below it.
func within(root, p string) bool {
	r, err := filepath.Rel(root, p)
	return err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) && !filepath.IsAbs(r)
}
