package render

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
)

// templateChart is a chart with one template.
func templateChart(name, tpl string) *chart.Chart {
	return &chart.Chart{
		Metadata:  &chart.Metadata{APIVersion: chart.APIVersionV2, Name: name, Version: "0.1.0", Type: "application"},
		Templates: []*common.File{{Name: "templates/cm.yaml", Data: []byte(tpl)}},
	}
}

// loopingTemplate runs for hours without allocating much.
const loopingTemplate = `{{ range until 100000 }}{{ range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}{{ end }}`

// hugeTemplate writes a MiB per iteration, 100 GiB in all.
const hugeTemplate = `{{ $s := repeat 1048576 "x" }}{{ range until 102400 }}{{ $s }}{{ end }}`

func TestRenderStopsLoopingTemplateAtTimeout(t *testing.T) {
	_, err := Render(context.Background(), templateChart("loop", loopingTemplate), Options{Limits: Limits{Timeout: 2 * time.Second}})
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("want a limit error, got %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, `chart "loop"`) || !strings.Contains(msg, "within 2s") {
		t.Errorf("the error should name the chart and the time bound: %v", err)
	}
}

func TestRenderCancelledStopsAtOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	_, err := Render(ctx, templateChart("loop", loopingTemplate), Options{Limits: Limits{Timeout: time.Hour}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if errors.Is(err, ErrLimit) {
		t.Errorf("a cancelled render is not a limit exceeded: %v", err)
	}
}

func TestRenderRefusesManifestsPastTheBound(t *testing.T) {
	tpl := `apiVersion: v1
kind: ConfigMap
metadata:
  name: big
data:
  big: {{ repeat 2097152 "x" | quote }}
`
	_, err := Render(context.Background(), templateChart("big", tpl), Options{Limits: Limits{MaxManifestBytes: 1 << 20}})
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("want a limit error, got %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, `chart "big"`) || !strings.Contains(msg, "more than the 1 MiB bound") {
		t.Errorf("the error should name the chart, the size and the bound: %v", err)
	}

	// Under the bound, the same chart renders.
	res, err := Render(context.Background(), templateChart("big", tpl), Options{Limits: Limits{MaxManifestBytes: 4 << 20}})
	if err != nil {
		t.Fatalf("under the bound: %v", err)
	}
	if got := len(res.Objects); got != 1 {
		t.Errorf("want the ConfigMap, got %d objects", got)
	}
}

func TestRenderStopsTemplateWritingGigabytes(t *testing.T) {
	const memLimit = 256 << 20
	_, err := Render(context.Background(), templateChart("huge", hugeTemplate), Options{Limits: Limits{MaxMemoryBytes: memLimit, Timeout: 2 * time.Minute}})
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("want a limit error, got %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, `chart "huge"`) || !strings.Contains(msg, "256 MiB of memory") {
		t.Errorf("the error should name the chart and the memory bound: %v", err)
	}
	assertMemoryBounded(t, memLimit)
}

// Values cross to the render process with their Go types: text/template
// prints float64(1000000) as 1e+06 and int64(1000000) as 1000000.
func TestRenderKeepsValueTypes(t *testing.T) {
	tpl := `apiVersion: v1
kind: ConfigMap
metadata:
  name: types
data:
  given: {{ printf "%v %s %v %s" .Values.i (kindOf .Values.i) .Values.f (kindOf .Values.f) | quote }}
  defaults: {{ printf "%v %s %v %v" .Values.d (kindOf .Values.d) .Values.n (kindOf .Values.list) | quote }}
`
	ch := templateChart("types", tpl)
	ch.Values = map[string]any{"d": float64(2000000), "n": nil, "list": []any{"a", int64(1)}}
	res, err := Render(context.Background(), ch, Options{Values: map[string]any{"i": int64(1000000), "f": float64(1000000)}})
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	data := res.Objects[0].Object["data"].(map[string]any)
	if got, want := data["given"], "1000000 int64 1e+06 float64"; got != want {
		t.Errorf("given values: got %q, want %q", got, want)
	}
	if got, want := data["defaults"], "2e+06 float64 <nil> slice"; got != want {
		t.Errorf("default values: got %q, want %q", got, want)
	}
}
