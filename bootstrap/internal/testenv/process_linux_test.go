package testenv

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/leynos/gitops-local/hack/controlplane"
)

// TestStopLeavesNothingBehind starts the whole stack, checks that every
// socket its processes hold is on loopback, stops it, and checks that no
// process of any component's process group and none of its files remain.
func TestStopLeavesNothingBehind(t *testing.T) {
	env := Start(t.Context(), t)
	procs := env.Processes()
	want := []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok",
		"source-controller", "kustomize-controller", "helm-controller"}
	var got []string
	pgids := map[int]string{}
	for _, p := range procs {
		got = append(got, p.Name)
		pgids[p.PID()] = p.Name
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("started %v, want %v", got, want)
	}
	c := Client(t, env)
	svc := &corev1.Service{}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: "default", Name: "kubernetes"}, svc); err != nil {
		t.Fatal(err)
	}
	if ip := net.ParseIP(svc.Spec.ClusterIP); !ip.IsLoopback() {
		t.Errorf("Service kubernetes has ClusterIP %s: Service IPs must be loopback", svc.Spec.ClusterIP)
	}
	node := &corev1.Node{}
	if err := c.Get(t.Context(), client.ObjectKey{Name: controlplane.NodeName}, node); err != nil {
		t.Fatal(err)
	}
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP && !net.ParseIP(a.Address).IsLoopback() {
			t.Errorf("node %s has address %s: node IPs must be loopback", node.Name, a.Address)
		}
	}
	for pid, name := range pgids {
		for _, s := range processSockets(t, pid) {
			if !s.loopback() {
				t.Errorf("%s (pid %d) holds a %s socket %s -> %s: every address must be in 127.0.0.0/8", name, pid, s.proto, s.local, s.remote)
			}
		}
	}
	if err := env.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	for pgid, name := range pgids {
		if left := groupMembers(t, pgid); len(left) > 0 {
			t.Errorf("%s: processes %v of its group %d still running after Stop", name, left, pgid)
		}
	}
	if _, err := os.Stat(env.Dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists after Stop (stat: %v)", env.Dir, err)
	}
}

const subprocessDirEnv = "GITOPS_LOCAL_TESTENV_SUBPROCESS_DIR"

// TestChildDiesWithParent runs a test binary that starts etcd, kills that
// binary with SIGKILL (no cleanup can run), and checks that etcd dies too.
func TestChildDiesWithParent(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: starts etcd")
	}
	etcdBin(t)
	dir := t.TempDir()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestSubprocessStartsEtcd$")
	cmd.Env = append(os.Environ(), subprocessDirEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := 0
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "etcd pid %d", &pid); err == nil {
			break
		}
	}
	if pid == 0 {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("the subprocess did not report etcd's pid; etcd log:\n%s", readFile(filepath.Join(dir, "etcd.log")))
	}
	if !alive(pid) {
		t.Fatalf("etcd (pid %d) is not running before its parent is killed", pid)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			t.Fatalf("etcd (pid %d) still running 10s after its parent was killed", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSubprocessStartsEtcd is the parent TestChildDiesWithParent kills.
func TestSubprocessStartsEtcd(t *testing.T) {
	dir := os.Getenv(subprocessDirEnv)
	if dir == "" {
		t.Skip("subprocess of TestChildDiesWithParent, run only by it")
	}
	var ports []int
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	client, peer := fmt.Sprintf("http://127.0.0.1:%d", ports[0]), fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	p, err := controlplane.StartProcess("etcd", etcdBin(t), []string{
		"--name=orphan-check", "--data-dir=" + filepath.Join(dir, "etcd"),
		"--listen-client-urls=" + client, "--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=orphan-check=" + peer,
	}, nil, filepath.Join(dir, "etcd.log"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("etcd pid %d\n", p.PID())
	time.Sleep(time.Minute) // until the parent test kills this process
}

func etcdBin(t *testing.T) string {
	t.Helper()
	root, err := controlplane.ToolsDir()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range controlplane.Components() {
		if c.Name == "etcd" {
			bin := filepath.Join(c.Dir(root), "etcd")
			if _, err := os.Stat(bin); err != nil {
				if os.Getenv(RequireEnv) == "1" {
					t.Fatalf("etcd not built (%v): run `go run ./hack/testcluster build`", err)
				}
				t.Skipf("etcd not built (%v): run `go run ./hack/testcluster build`", err)
			}
			return bin
		}
	}
	t.Fatal("no etcd component")
	return ""
}

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// alive reports whether pid runs (a zombie no longer does).
func alive(pid int) bool {
	st, ok := procStat(pid)
	return ok && st.state != "Z" && st.state != "X"
}

type stat struct {
	state string
	pgrp  int
}

func procStat(pid int) (stat, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return stat{}, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return stat{}, false
	}
	f := strings.Fields(s[i+1:]) // state ppid pgrp ...
	if len(f) < 3 {
		return stat{}, false
	}
	pgrp, _ := strconv.Atoi(f[2])
	return stat{state: f[0], pgrp: pgrp}, true
}

// groupMembers lists the live processes of process group pgid.
func groupMembers(t *testing.T, pgid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := procStat(pid); ok && st.pgrp == pgid && st.state != "Z" && st.state != "X" {
			pids = append(pids, pid)
		}
	}
	return pids
}

type socket struct {
	proto         string
	local, remote net.IP
	listen        bool
}

func (s socket) loopback() bool {
	if !s.local.IsLoopback() {
		return false
	}
	return s.remote.IsLoopback() || (s.remote.IsUnspecified() && (s.listen || s.proto == "udp" || s.proto == "udp6"))
}

// processSockets lists the TCP and UDP sockets process pid holds.
func processSockets(t *testing.T, pid int) []socket {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("listing the sockets of pid %d: %v", pid, err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var out []socket
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, proto))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || !inodes[f[9]] {
				continue
			}
			out = append(out, socket{
				proto:  proto,
				local:  procNetIP(t, f[1]),
				remote: procNetIP(t, f[2]),
				listen: strings.HasPrefix(proto, "tcp") && f[3] == "0A",
			})
		}
	}
	return out
}

// procNetIP decodes an address of /proc/net/{tcp,udp}[6]: hex, in 32-bit
// words of host (little-endian) byte order, then ":port".
func procNetIP(t *testing.T, s string) net.IP {
	t.Helper()
	h, _, _ := strings.Cut(s, ":")
	b, err := hex.DecodeString(h)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		t.Fatalf("bad /proc/net address %q", s)
	}
	ip := make(net.IP, len(b))
	for w := 0; w < len(b); w += 4 {
		ip[w], ip[w+1], ip[w+2], ip[w+3] = b[w+3], b[w+2], b[w+1], b[w]
	}
	return ip
}
