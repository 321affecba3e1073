package controlplane

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/leynos/gitops-local/bootstrap/versions"
)

// fakeTools lays out a tools directory whose binaries are shell scripts.
func fakeTools(t *testing.T, script string) string {
	t.Helper()
	root := t.TempDir()
	for _, c := range Components() {
		for _, b := range c.Binaries {
			path := filepath.Join(c.Dir(root), b)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range c.Files {
			if err := os.MkdirAll(filepath.Join(c.Dir(root), f.To), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func TestFindToolsNamesWhatIsMissing(t *testing.T) {
	root := fakeTools(t, "exit 0\n")
	kwok := Tools{Root: root}
	if err := os.Remove(kwok.Bin("kwok")); err != nil {
		t.Fatal(err)
	}
	_, err := FindTools(root)
	var missing *MissingError
	if !errors.As(err, &missing) {
		t.Fatalf("FindTools: %v, want a *MissingError", err)
	}
	if got := strings.Join(missing.Components, ","); got != "kwok@"+versions.Kwok {
		t.Errorf("missing %q, want only kwok", got)
	}
	if !strings.Contains(err.Error(), "go run ./hack/testcluster build") {
		t.Errorf("error %q does not say how to build", err)
	}
}

// TestStartReportsTheFailingComponent checks that a component exiting during
// start-up is named with its last 20 log lines, and nothing is left behind.
func TestStartReportsTheFailingComponent(t *testing.T) {
	root := fakeTools(t, "for i in $(seq 1 30); do echo \"log line $i\"; done\nexit 3\n")
	dir := filepath.Join(t.TempDir(), "env")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Start(context.Background(), Options{ToolsDir: root, Dir: dir})
	if err == nil {
		t.Fatal("Start succeeded with a failing etcd")
	}
	msg := err.Error()
	for _, want := range []string{"etcd: exited before healthy: exit status 3", "log line 11\n", "log line 30"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not contain %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "log line 10\n") {
		t.Errorf("error has more than the last 20 lines:\n%s", msg)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s left behind after a failed start (stat: %v)", dir, err)
	}
}

func TestLastLines(t *testing.T) {
	var b strings.Builder
	for i := 1; i <= 25; i++ {
		fmt.Fprintf(&b, "%d\n", i)
	}
	got := lastLines(b.String(), 20)
	if !strings.HasPrefix(got, "6\n") || !strings.HasSuffix(got, "\n25") {
		t.Errorf("lastLines = %q", got)
	}
}

func TestRemoveStaleDirs(t *testing.T) {
	tmp := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	owners := map[string]int{"dead": dead.Process.Pid, "alive": os.Getpid()}
	for name, pid := range owners {
		d := filepath.Join(tmp, dirPrefix+name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, ownerFile), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	removeStaleDirs(tmp)
	if _, err := os.Stat(filepath.Join(tmp, dirPrefix+"dead")); !os.IsNotExist(err) {
		t.Errorf("the dead owner's directory was kept (stat: %v)", err)
	}
	if _, err := os.Stat(filepath.Join(tmp, dirPrefix+"alive")); err != nil {
		t.Errorf("the live owner's directory was removed: %v", err)
	}
}
