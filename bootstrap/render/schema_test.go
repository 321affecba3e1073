package render

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
)

// writeChart writes a chart directory from files (path -> content).
func writeChart(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "c")
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const chartYAML = "apiVersion: v2\nname: c\nversion: 0.1.0\n"

// TestSchemaRefsAreNeverFetched: a values schema referring to an http URL
// (served on loopback, counting requests) or to a file outside the chart
// is refused with ErrSchemaRef by ValidateValues and Render, and nothing is
// requested or read.
func TestSchemaRefsAreNeverFetched(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		_, _ = w.Write([]byte(`{"type": "object"}`))
	}))
	t.Cleanup(srv.Close)
	outside := filepath.Join(t.TempDir(), "outside.json")
	if err := os.WriteFile(outside, []byte(`{"type": "object"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, ref := range map[string]string{
		"http":            srv.URL + "/schema.json",
		"file outside":    "file://" + outside,
		"relative escape": "../../../../../../.." + outside,
		"$schema":         "",
	} {
		t.Run(name, func(t *testing.T) {
			schema := `{"type": "object", "properties": {"a": {"$ref": "` + ref + `"}}}`
			if ref == "" {
				schema = `{"$schema": "` + srv.URL + `/meta.json", "type": "object"}`
			}
			ch, err := LoadChart(writeChart(t, map[string]string{"Chart.yaml": chartYAML, "values.schema.json": schema}))
			if err != nil {
				t.Fatal(err)
			}
			err = ValidateValues(ch, map[string]any{"a": map[string]any{}})
			if !errors.Is(err, ErrSchemaRef) || !strings.Contains(err.Error(), `chart "c"`) {
				t.Errorf("ValidateValues: %v, want ErrSchemaRef naming the chart", err)
			}
			if _, err := Render(context.Background(), ch, Options{Values: map[string]any{"a": map[string]any{}}}); !errors.Is(err, ErrSchemaRef) {
				t.Errorf("Render: %v, want ErrSchemaRef", err)
			}
			if _, err := CompileValuesSchema(ch); !errors.Is(err, ErrSchemaRef) {
				t.Errorf("CompileValuesSchema: %v, want ErrSchemaRef", err)
			}
			msgs, err := Lint(writeChart(t, map[string]string{"Chart.yaml": chartYAML, "values.schema.json": schema}), nil)
			if err != nil {
				t.Fatal(err)
			}
			refused := false
			for _, m := range msgs {
				refused = refused || m.Severity == SeverityError && errors.Is(m.Err, ErrSchemaRef)
			}
			if !refused {
				t.Errorf("Lint: %v, want an error wrapping ErrSchemaRef", msgs)
			}
		})
	}
	if n := requests.Load(); n > 0 {
		t.Errorf("%d HTTP requests made", n)
	}
}

// TestSchemaRefsToChartFiles: a $ref to a file the chart ships is resolved
// from the chart, and its rules apply; a subchart's schema is still
// checked against the values given to it.
func TestSchemaRefsToChartFiles(t *testing.T) {
	dir := writeChart(t, map[string]string{
		"Chart.yaml":                    chartYAML + "dependencies:\n  - name: sub\n    version: 0.1.0\n",
		"values.schema.json":            `{"type": "object", "properties": {"port": {"$ref": "defs/port.json"}}}`,
		"defs/port.json":                `{"type": "integer", "maximum": 65535}`,
		"charts/sub/Chart.yaml":         "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
		"charts/sub/values.schema.json": `{"type": "object", "properties": {"replicas": {"type": "integer"}}}`,
	})
	ch, err := LoadChart(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidateValues(ch, map[string]any{"port": 8080}); err != nil {
		t.Errorf("valid values refused: %v", err)
	}
	err = ValidateValues(ch, map[string]any{"port": 70000})
	if !errors.Is(err, ErrInvalidValues) || !strings.Contains(err.Error(), "/port") {
		t.Errorf("port 70000: %v, want the referenced maximum applied", err)
	}
	err = ValidateValues(ch, map[string]any{"sub": map[string]any{"replicas": "two"}})
	if !errors.Is(err, ErrInvalidValues) || !strings.Contains(err.Error(), "sub:") || !strings.Contains(err.Error(), "/replicas") {
		t.Errorf("subchart values: %v, want the subchart's schema applied", err)
	}
}

// TestRenderNeverRunsHelmsSchemaLoader: a subchart's schema is checked as
// Helm checks it (the merged values hold the subchart's defaults), so its
// remote $ref is refused; and Helm's install action, as renderInstall runs
// it, never runs its own schema check, which would fetch the $ref.
func TestRenderNeverRunsHelmsSchemaLoader(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		_, _ = w.Write([]byte(`{"type": "object"}`))
	}))
	t.Cleanup(srv.Close)
	files := map[string]string{
		"Chart.yaml":                    chartYAML + "dependencies:\n  - name: sub\n    version: 0.1.0\n",
		"templates/cm.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n",
		"charts/sub/Chart.yaml":         "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
		"charts/sub/values.schema.json": `{"type": "object", "properties": {"a": {"$ref": "` + srv.URL + `/s.json"}}}`,
		"charts/sub/templates/cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sub\n",
	}
	ch, err := LoadChart(writeChart(t, files))
	if err != nil {
		t.Fatal(err)
	}
	for _, values := range []map[string]any{nil, {"sub": map[string]any{"a": 1}}} {
		if _, err := Render(context.Background(), ch, Options{Values: values}); !errors.Is(err, ErrSchemaRef) || !strings.Contains(err.Error(), `chart "sub"`) {
			t.Errorf("Render with %v: %v, want ErrSchemaRef naming the subchart", values, err)
		}
	}
	rel, err := renderInstall(context.Background(), cloneChart(ch), map[string]any{"sub": map[string]any{"a": 1}},
		Options{ReleaseName: "c", Namespace: "default"}, kubeVersion(t))
	if err != nil {
		t.Fatalf("renderInstall: %v", err)
	}
	if len(rel.objects) != 2 {
		t.Errorf("renderInstall rendered %d objects, want 2", len(rel.objects))
	}
	if n := requests.Load(); n > 0 {
		t.Errorf("%d HTTP requests made", n)
	}
}

func kubeVersion(t *testing.T) *common.KubeVersion {
	t.Helper()
	kv, err := common.ParseKubeVersion(DefaultKubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}
