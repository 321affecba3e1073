package controlplane

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// freePorts reserves a distinct free port on 127.0.0.1 for each name. The
// listeners are all held until every port is chosen, so the ports differ.
//
// The ports come from below the kernel's ephemeral range: a port is only
// reserved, then released for its component to bind later, and in between
// the kernel could hand a port of its ephemeral range to anything that
// listens on port 0 (this package's registry, another test's server). Where
// that range cannot be read, the kernel chooses.
func freePorts(names []string) (map[string]int, error) {
	ports := make(map[string]int, len(names))
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	low, high := reservedRange()
	for _, n := range names {
		l, err := listenBelowEphemeral(low, high)
		if err != nil {
			return nil, fmt.Errorf("reserving a loopback port for %s: %w", n, err)
		}
		ls = append(ls, l)
		ports[n] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// reservedRange is the range freePorts picks from: [10000, the start of the
// ephemeral range), or none (0, 0) when that range is unknown or too low.
func reservedRange() (low, high int) {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0
	}
	var first, last int
	if _, err := fmt.Sscan(string(data), &first, &last); err != nil || first <= 11000 {
		return 0, 0
	}
	return 10000, first
}

// listenBelowEphemeral listens on a random free port in [low, high), or on
// one the kernel chooses when the range is empty.
func listenBelowEphemeral(low, high int) (net.Listener, error) {
	if high <= low {
		return net.Listen("tcp", "127.0.0.1:0")
	}
	var err error
	for range 100 {
		var l net.Listener
		port := low + rand.IntN(high-low)
		if l, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
			return l, nil
		}
	}
	return nil, fmt.Errorf("no free port in %d-%d: %w", low, high-1, err)
}

func httpGetOK(ctx context.Context, c *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return nil
}

// insecureHTTPClient checks the health endpoints of kube-controller-manager
// and kube-scheduler, which serve self-signed certificates on loopback.
func insecureHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback health checks of self-signed test servers
	}}
}

func timeAfter() <-chan time.Time { return time.After(100 * time.Millisecond) }
