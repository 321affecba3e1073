package cluster

import (
	"context"
	"io"
	"net/http"
	"sync"

	"k8s.io/client-go/rest"
)

// BindContext returns a copy of cfg whose every request also ends when ctx
// does (a command's deadline, Ctrl-C), including the requests of libraries
// that pass no context of their own: controller-runtime's REST mapper runs
// API discovery with context.TODO(), so a server that accepts a
// connection and never answers would hold it until cfg.Timeout, once per
// discovery request.
func BindContext(ctx context.Context, cfg *rest.Config) *rest.Config {
	out := rest.CopyConfig(cfg)
	out.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return &boundRoundTripper{ctx: ctx, rt: rt}
	})
	return out
}

// boundRoundTripper ends each request when ctx ends.
type boundRoundTripper struct {
	ctx context.Context
	rt  http.RoundTripper
}

func (b *boundRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := b.ctx.Err(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(req.Context())
	stop := context.AfterFunc(b.ctx, func() { cancel(b.ctx.Err()) })
	done := func() { stop(); cancel(nil) }
	resp, err := b.rt.RoundTrip(req.WithContext(ctx))
	if err != nil {
		done()
		if b.ctx.Err() != nil {
			return nil, b.ctx.Err()
		}
		return nil, err
	}
	// The request's context must outlive the answer's body.
	resp.Body = &releasingBody{ReadCloser: resp.Body, release: done}
	return resp, nil
}

// WrappedRoundTripper lets client-go see through the wrapper.
func (b *boundRoundTripper) WrappedRoundTripper() http.RoundTripper { return b.rt }

// releasingBody releases a request's context when its body is closed.
type releasingBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (r *releasingBody) Close() error {
	err := r.ReadCloser.Close()
	r.once.Do(r.release)
	return err
}
