package validate

import (
	"fmt"
	"net/http"
	"sync/atomic"
)

// networkAttempts counts HTTP requests made through the default transport;
// TestMain fails the run when any was made.
var networkAttempts atomic.Int64

// noNetwork is an http.RoundTripper that refuses every request.
type noNetwork struct{}

func (noNetwork) RoundTrip(req *http.Request) (*http.Response, error) {
	networkAttempts.Add(1)
	return nil, fmt.Errorf("test attempted network access: %s %s", req.Method, req.URL.Redacted())
}
