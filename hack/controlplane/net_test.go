package controlplane

import (
	"net"
	"strconv"
	"testing"
)

// The ports reserved for the components are distinct, free once reserved,
// and outside the kernel's ephemeral range, so nothing listening on port 0
// in the meantime (the registry, another test's server) can take one.
func TestFreePortsAvoidTheEphemeralRange(t *testing.T) {
	low, high := reservedRange()
	if high == 0 {
		t.Skip("the kernel's ephemeral port range is not readable here")
	}
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m"}
	ports, err := freePorts(names)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, n := range names {
		p := ports[n]
		if p < low || p >= high {
			t.Errorf("port %d for %s is outside %d-%d", p, n, low, high-1)
		}
		if seen[p] {
			t.Errorf("port %d given twice", p)
		}
		seen[p] = true
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Errorf("reserved port %d is not free: %v", p, err)
			continue
		}
		l.Close()
	}
	// A listener on port 0 gets an ephemeral port, never one of these.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if p := l.Addr().(*net.TCPAddr).Port; p < high {
		t.Errorf("port 0 gave %d, below the ephemeral range starting at %d", p, high)
	}
}
