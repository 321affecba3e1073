package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"

	"github.com/leynos/gitops-local/bootstrap/testutil"
)

// Discovery passes no context of its own: against a server that accepts
// connections and never answers, only BindContext's context ends it.
func TestBindContextEndsRequestsWithoutContext(t *testing.T) {
	addr := testutil.SilentServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	dc, err := discovery.NewDiscoveryClientForConfig(BindContext(ctx, &rest.Config{Host: "http://" + addr}))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := dc.ServerVersion(); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("want the request cancelled, got %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the request outlived its context")
	}
}
