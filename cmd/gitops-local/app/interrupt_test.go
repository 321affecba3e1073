package app

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mainEnv, set to "1", makes this test binary run Main with its arguments:
// the interrupt tests send signals to a real process.
const mainEnv = "GITOPS_LOCAL_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		os.Exit(Main())
	}
	os.Exit(m.Run())
}

// loopTemplate renders for hours without allocating much.
const loopTemplate = `{{ range until 100000 }}{{ range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}{{ end }}`

// loopingRepo writes a repository whose one HelmRelease renders a chart
// whose template never ends.
func loopingRepo(t *testing.T) string {
	t.Helper()
	return hostileRepoWith(t, loopTemplate)
}

// hostileRepoWith writes a repository whose one HelmRelease, team/loop,
// renders a chart with the one template tpl.
func hostileRepoWith(t *testing.T, tpl string) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"overlays/test/cluster-vars.env":   "REGISTRY=reg.test:5000\n",
		"overlays/test/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - release.yaml\n",
		"overlays/test/release.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: loop
  namespace: team
spec:
  interval: 10m
  url: oci://${REGISTRY}/charts/loop
  ref:
    tag: 0.1.0
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: loop
  namespace: team
spec:
  interval: 10m
  chartRef:
    kind: OCIRepository
    name: loop
`,
		"charts/loop/Chart.yaml":          "apiVersion: v2\nname: loop\nversion: 0.1.0\n",
		"charts/loop/templates/loop.yaml": tpl,
	}
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// waitForWorkCopy waits until a build has copied the repository into tmp,
// so that the render that follows is under way.
func waitForWorkCopy(t *testing.T, tmp string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if m, _ := filepath.Glob(filepath.Join(tmp, "gitops-local-build-*")); len(m) > 0 {
			time.Sleep(500 * time.Millisecond) // the build goes on to the render
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the build never copied the repository")
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range left {
		t.Errorf("left behind in the temporary directory: %s", d.Name())
	}
}

// A validate cancelled while a chart renders prints no finding, says it was
// interrupted, exits 130 and leaves nothing in the temporary directory.
func TestValidateCancelledMidRender(t *testing.T) {
	root := loopingRepo(t)
	cache := t.TempDir()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		waitForWorkCopy(t, tmp)
		cancel()
	}()
	var out, errOut bytes.Buffer
	env := map[string]string{"GITOPS_LOCAL_CHART_CACHE": cache}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	code := Run(ctx, Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, []string{"validate", "--repo", root, "--render-timeout", "1h"}, lookup)
	if code != ExitInterrupted {
		t.Errorf("exit %d, want %d", code, ExitInterrupted)
	}
	if out.Len() != 0 {
		t.Errorf("an interrupted validate printed results:\n%s", out.String())
	}
	if got := errOut.String(); !strings.Contains(got, "interrupted") || strings.Contains(got, "render") || strings.Contains(got, "finding") {
		t.Errorf("stderr should only say it was interrupted:\n%s", got)
	}
	assertEmptyDir(t, tmp)
}

// startValidate starts this binary as `gitops-local validate` of a
// repository whose chart never finishes rendering, and waits until it
// renders. It returns the process and its output.
func startValidate(t *testing.T) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer, string) {
	t.Helper()
	root := loopingRepo(t)
	tmp := t.TempDir()
	cmd := exec.Command(os.Args[0], "validate", "--repo", root, "--render-timeout", "1h")
	cmd.Env = append(os.Environ(), mainEnv+"=1", "TMPDIR="+tmp, "GITOPS_LOCAL_CHART_CACHE="+t.TempDir())
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	waitForWorkCopy(t, tmp)
	return cmd, &out, &errOut, tmp
}

// waitExit waits for cmd, failing the test if it is still running after a
// generous bound, and returns its exit code.
func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("wait: %v", err)
		}
		return cmd.ProcessState.ExitCode()
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the process did not stop after the interrupt")
		return -1
	}
}

func TestInterruptStopsValidate(t *testing.T) {
	cmd, out, errOut, tmp := startValidate(t)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd); code != ExitInterrupted {
		t.Errorf("exit %d, want %d\nstderr:\n%s", code, ExitInterrupted, errOut)
	}
	if out.Len() != 0 {
		t.Errorf("an interrupted validate printed results:\n%s", out)
	}
	if !strings.Contains(errOut.String(), "✗ interrupted") {
		t.Errorf("stderr does not say it was interrupted:\n%s", errOut)
	}
	assertEmptyDir(t, tmp)
}

func TestSecondInterruptQuitsAtOnce(t *testing.T) {
	cmd, _, errOut, tmp := startValidate(t)
	// SIGTERM then SIGINT: either signal counts, and the second does not
	// wait for the command to stop.
	for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
	}
	if code := waitExit(t, cmd); code != ExitInterrupted {
		t.Errorf("exit %d, want %d\nstderr:\n%s", code, ExitInterrupted, errOut)
	}
	if strings.Contains(errOut.String(), "✗ interrupted") {
		t.Errorf("the command stopped by itself: the second signal did not quit at once\nstderr:\n%s", errOut)
	}
	// The render process dies with it.
	deadline := time.Now().Add(10 * time.Second)
	for pid := processWithEnv("TMPDIR=" + tmp); pid != 0; pid = processWithEnv("TMPDIR=" + tmp) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d, started by the interrupted command, is still running", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// processWithEnv returns the id of a running process whose environment
// holds kv, or 0; it reads /proc, where there is one.
func processWithEnv(kv string) int {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", d.Name(), "environ"))
		if err != nil {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat")); err == nil && strings.Contains(string(stat), ") Z ") {
			continue // a zombie: dead, waiting to be reaped
		}
		for _, e := range bytes.Split(env, []byte{0}) {
			if string(e) == kv {
				return pid
			}
		}
	}
	return 0
}
