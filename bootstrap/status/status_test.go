package status

import (
	"testing"

	"github.com/leynos/gitops-local/bootstrap/reconcile"
)

func TestReady(t *testing.T) {
	ready := reconcile.ObjectResult{Status: reconcile.Status{State: reconcile.Ready}}
	waiting := reconcile.ObjectResult{Status: reconcile.Status{State: reconcile.Waiting}}
	cases := []struct {
		name string
		r    Report
		want bool
	}{
		{"all ready", Report{Controllers: []Controller{{Available: true}}, Objects: []reconcile.ObjectResult{ready}}, true},
		{"an object waiting", Report{Controllers: []Controller{{Available: true}}, Objects: []reconcile.ObjectResult{ready, waiting}}, false},
		{"a controller down", Report{Controllers: []Controller{{Available: false}}, Objects: []reconcile.ObjectResult{ready}}, false},
		{"no Flux at all", Report{}, false},
		{"Flux but nothing deployed", Report{Controllers: []Controller{{Available: true}}}, false},
	}
	for _, tc := range cases {
		if got := tc.r.Ready(); got != tc.want {
			t.Errorf("%s: Ready() = %v, want %v", tc.name, got, tc.want)
		}
	}
}
