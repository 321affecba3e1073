package publish

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/leynos/gitops-local/bootstrap/testutil"
)

// A registry that accepts connections and never answers fails each
// request after the answer timeout, even under a context without deadline.
func TestSilentRegistryFailsTheRequest(t *testing.T) {
	addr := testutil.SilentServer(t)
	withAnswerTimeout := func(p *Publisher) { p.dialTimeout, p.answerTimeout = 300*time.Millisecond, 300*time.Millisecond }
	p, err := New(addr, WithInsecure(), withAnswerTimeout)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := p.Tree(context.Background(), newTree(t), "gitops-local/repo", "local")
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), addr) {
			t.Errorf("want an error naming the registry %s, got %v", addr, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the push to a silent registry never returned")
	}
}
