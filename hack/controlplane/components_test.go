package controlplane

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStopAndStartComponent(t *testing.T) {
	e := &Env{Dir: t.TempDir(), opts: Options{Log: io.Discard}}
	if err := os.MkdirAll(e.path("logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := StartProcess("kwok", "/bin/sh", []string{"-c", "echo started $MARK; exec sleep 60"}, []string{"MARK=one"}, e.path("logs", "kwok.log"))
	if err != nil {
		t.Fatal(err)
	}
	e.procs = []*Process{p}
	t.Cleanup(func() { _ = e.Stop() })

	waitStarts := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			b, _ := os.ReadFile(e.path("logs", "kwok.log"))
			if strings.Count(string(b), "started one\n") == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("kwok's log is %q, want %d starts with the same environment", b, n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitStarts(1)
	if err := e.StartComponent(context.Background(), "kwok"); err == nil || !strings.Contains(err.Error(), "still running") {
		t.Fatalf("starting a running component: %v, want an error saying it still runs", err)
	}
	if err := e.StopComponent("kwok"); err != nil {
		t.Fatal(err)
	}
	if exited, _ := p.Exited(); !exited {
		t.Fatal("kwok still runs after StopComponent")
	}
	if err := e.StopComponent("kwok"); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Fatalf("stopping a stopped component: %v, want an error saying it is not running", err)
	}
	if err := e.StartComponent(context.Background(), "kwok"); err != nil {
		t.Fatal(err)
	}
	procs := e.Processes()
	if len(procs) != 1 || procs[0] == p || procs[0].PID() == p.PID() {
		t.Fatalf("after StartComponent the components are %v, want one new kwok", procs)
	}
	if exited, err := procs[0].Exited(); exited {
		t.Fatalf("kwok started again exited: %v", err)
	}
	// Same arguments and environment, same log file (appended to).
	waitStarts(2)
	if err := e.StopComponent("etcd"); err == nil || !strings.Contains(err.Error(), "no such component") {
		t.Errorf("stopping an unknown component: %v", err)
	}
}

func TestRegistryStopAndStartKeepsItsContent(t *testing.T) {
	e := &Env{Dir: t.TempDir(), opts: Options{Log: io.Discard}}
	if err := os.MkdirAll(filepath.Join(e.Dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := e.startRegistry(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop() })
	c := &http.Client{Timeout: 5 * time.Second}
	blob := []byte("a layer")
	digest := fmt.Sprintf("sha256:%x", sha256.Sum256(blob))
	base := "http://" + e.RegistryPush
	resp, err := c.Post(base+"/v2/repo/blobs/uploads/?digest="+digest, "application/octet-stream", bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("uploading a blob: %s", resp.Status)
	}

	// A hook that stops the registry drops the request it sees.
	e.OnRegistryRequest(func(*http.Request) {
		if err := e.StopRegistry(); err != nil {
			t.Error(err)
		}
	})
	if resp, err := c.Get(base + "/v2/"); err == nil {
		resp.Body.Close()
		t.Fatalf("a request during which the registry stopped was answered: %s", resp.Status)
	}
	e.OnRegistryRequest(nil)
	if resp, err := c.Get(base + "/v2/"); err == nil {
		resp.Body.Close()
		t.Fatalf("a stopped registry answered: %s", resp.Status)
	}
	if err := e.StopRegistry(); err == nil {
		t.Error("stopping a stopped registry succeeded")
	}
	if err := e.StartRegistry(); err != nil {
		t.Fatal(err)
	}
	if err := e.StartRegistry(); err == nil {
		t.Error("starting a running registry succeeded")
	}
	resp, err = c.Get(base + "/v2/repo/blobs/" + digest)
	if err != nil {
		t.Fatalf("the registry started again on the same address: %v", err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, blob) {
		t.Fatalf("blob after a restart: %s %q, want the blob pushed before", resp.Status, got)
	}
}
