package cluster

import (
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestCheckHostPort(t *testing.T) {
	for _, s := range []string{"127.0.0.1:5000", "registry:5000", "k3d-gitops-local-registry.localhost:1", "[::1]:65535", "Reg.Example.com:443"} {
		if err := CheckHostPort(s); err != nil {
			t.Errorf("%q refused: %v", s, err)
		}
	}
	for _, s := range []string{"", "a b:5000", ":99999", "host:99999", "host:0", "-x", "host", "host:", "host:port", "-x:5000", "host:+5", "host:-5", "http://host:5000", "a\x1b[31m:5000", "[::1]", "host:5000/path"} {
		if err := CheckHostPort(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for _, s := range []string{"http://127.0.0.1:8080/", "https://preview.example.com", "http://[::1]:80/x"} {
		if err := CheckURL(s); err != nil {
			t.Errorf("%q refused: %v", s, err)
		}
	}
	for _, s := range []string{"", "-x", "127.0.0.1:8080", "ftp://host/", "http://:80/", "http://host:99999/", "http://host:0/", "http://a b/", "http://host:/"} {
		if err := CheckURL(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestCheckPort(t *testing.T) {
	if CheckPort(0, true) != nil || CheckPort(0, false) == nil || CheckPort(65536, true) == nil || CheckPort(-1, true) == nil || CheckPort(8080, false) != nil {
		t.Error("CheckPort bounds wrong")
	}
}

// TestPortErrorNamesAPrivilegedPort: on Linux, binding port 80 as a user
// fails with EACCES (ip(7): "ports below 1024 ... CAP_NET_BIND_SERVICE"),
// which is not something else listening there.
func TestPortErrorNamesAPrivilegedPort(t *testing.T) {
	denied := &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", syscall.EACCES)}
	err := portError(80, denied)
	if !strings.Contains(err.Error(), "privileged port") || strings.Contains(err.Error(), "something else listens") {
		t.Errorf("EACCES on port 80 reported as %q", err)
	}
	inUse := &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", syscall.EADDRINUSE)}
	if err := portError(8080, inUse); !strings.Contains(err.Error(), "something else listens") {
		t.Errorf("EADDRINUSE reported as %q", err)
	}
}
