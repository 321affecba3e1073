package cluster

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
)

// Discovery passes no context of its own: against a server that accepts
// connections and never answers, only BindContext's context ends it.
func TestBindContextEndsRequestsWithoutContext(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	dc, err := discovery.NewDiscoveryClientForConfig(BindContext(ctx, &rest.Config{Host: "http://" + l.Addr().String()}))
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
