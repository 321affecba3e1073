package render

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// valueTemplate renders a ConfigMap holding .Values.v.
const valueTemplate = `apiVersion: v1
kind: ConfigMap
metadata: {name: v}
data: {v: {{ .Values.v | quote }}}
`

// renderValue renders valueTemplate with v under lim and returns the
// rendered value.
func renderValue(t *testing.T, lim Limits, v string) string {
	t.Helper()
	res, err := Render(context.Background(), templateChart("value", valueTemplate), Options{Values: map[string]any{"v": v}, Limits: lim})
	if err != nil {
		t.Fatalf("render %q: %v", v, err)
	}
	if len(res.Objects) != 1 {
		t.Fatalf("render %q: want one object, got %d", v, len(res.Objects))
	}
	got, _ := res.Objects[0].Object["data"].(map[string]any)["v"].(string)
	return got
}

// Limits no other test uses, so that the processes counted here are this
// test's alone.
var poolLimits = Limits{Timeout: 17 * time.Second, MaxManifestBytes: 3 << 20}

func TestRenderReusesItsProcess(t *testing.T) {
	lim := poolLimits
	lim.MaxMemoryBytes = 900 << 20
	before := processesStarted.Load()
	for i := range 4 {
		want := fmt.Sprint("value-", i)
		if got := renderValue(t, lim, want); got != want {
			t.Fatalf("render %d gave %q, want %q", i, got, want)
		}
	}
	if n := processesStarted.Load() - before; n != 1 {
		t.Errorf("four renders in turn started %d render processes, want one kept between them", n)
	}
}

func TestRenderNeverReusesAFailedProcess(t *testing.T) {
	lim := poolLimits
	lim.MaxMemoryBytes = 901 << 20
	lim.Timeout = 2 * time.Second
	before := processesStarted.Load()
	_ = renderValue(t, lim, "first")
	_, err := Render(context.Background(), templateChart("loop", loopingTemplate), Options{Limits: lim})
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("want the looping render stopped at its bound, got %v", err)
	}
	if got := renderValue(t, lim, "after"); got != "after" {
		t.Fatalf("the render after a killed process gave %q", got)
	}
	// The first process served "first" and was killed in the loop; the
	// render after it needed a new one.
	if n := processesStarted.Load() - before; n != 2 {
		t.Errorf("started %d render processes, want 2 (the killed one not reused)", n)
	}
}

func TestRenderProcessesAnswerTheirOwnRequests(t *testing.T) {
	lim := poolLimits
	lim.MaxMemoryBytes = 902 << 20
	var wg sync.WaitGroup
	errs := make(chan error, 24)
	for i := range 24 {
		wg.Go(func() {
			want := fmt.Sprint("concurrent-", i)
			res, err := Render(context.Background(), templateChart("value", valueTemplate), Options{Values: map[string]any{"v": want}, Limits: lim})
			if err != nil {
				errs <- err
				return
			}
			if got := res.Objects[0].Object["data"].(map[string]any)["v"]; got != want {
				errs <- fmt.Errorf("asked for %q, got %q", want, got)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
