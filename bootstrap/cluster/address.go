package cluster

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// CheckHostPort checks that s is a registry address, host:port: the host a
// DNS name or an IP address (IPv6 in brackets), the port a number from 1
// to 65535. Callers check their flags with it before anything is done, so
// that a typo is refused before the cluster is changed.
func CheckHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", s, err)
	}
	if err := checkHost(host); err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	if err := checkPort(port); err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	return nil
}

// CheckURL checks that s is an http or https URL with a valid host and,
// when it has one, port.
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q is not an http or https URL", s)
	}
	if err := checkHost(u.Hostname()); err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	if p := u.Port(); p != "" || strings.HasSuffix(u.Host, ":") {
		if err := checkPort(p); err != nil {
			return fmt.Errorf("%q: %w", s, err)
		}
	}
	return nil
}

// CheckPort checks a port number given as a flag: 1 to 65535, or 0 when
// allowZero (meaning "choose one").
func CheckPort(p int, allowZero bool) error {
	if p == 0 && allowZero {
		return nil
	}
	if p < 1 || p > 65535 {
		return fmt.Errorf("port %d is not between 1 and 65535", p)
	}
	return nil
}

func checkHost(host string) error {
	if host == "" {
		return fmt.Errorf("no host")
	}
	if net.ParseIP(host) != nil {
		return nil
	}
	if errs := validation.IsDNS1123Subdomain(strings.ToLower(host)); len(errs) > 0 {
		return fmt.Errorf("host %q is not a DNS name or an IP address", host)
	}
	return nil
}

func checkPort(port string) error {
	n, err := strconv.Atoi(port)
	if err != nil || port == "" || port[0] == '+' || port[0] == '-' {
		return fmt.Errorf("port %q is not a number", port)
	}
	return CheckPort(n, false)
}
