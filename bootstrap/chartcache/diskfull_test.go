package chartcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
)

// fullDisk is a file on a disk with free bytes left: a write beyond them
// writes what fits and fails with ENOSPC, as write(2) does; syncFails
// makes the flush fail instead, as a filesystem that allocates late does.
type fullDisk struct {
	*os.File
	free      int
	syncFails bool
}

func (f *fullDisk) Write(p []byte) (int, error) {
	if len(p) <= f.free {
		f.free -= len(p)
		return f.File.Write(p)
	}
	n, _ := f.File.Write(p[:f.free])
	f.free = 0
	return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
}

func (f *fullDisk) Sync() error {
	if f.syncFails {
		return &os.PathError{Op: "sync", Path: f.Name(), Err: syscall.ENOSPC}
	}
	return f.File.Sync()
}

// TestFullDiskLeavesNoArchiveAndTheNextRunRecovers pulls a chart onto a
// disk that fills up while the archive is written: the pull fails naming
// the full disk, the cache holds neither the archive nor a partial file,
// and the next pull, with space again, caches the whole archive.
func TestFullDiskLeavesNoArchiveAndTheNextRunRecovers(t *testing.T) {
	archive := chartArchive(t, "demo", "1.2.3")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/charts/index.yaml":
			fmt.Fprint(w, "apiVersion: v1\nentries:\n  demo:\n  - apiVersion: v2\n    name: demo\n    version: 1.2.3\n    urls: [demo-1.2.3.tgz]\n")
		case "/charts/demo-1.2.3.tgz":
			_, _ = w.Write(archive)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ref := Ref{Name: "demo", Version: "1.2.3", Repository: srv.URL + "/charts"}

	for _, tc := range []struct {
		name string
		disk fullDisk
	}{
		{"write fails half-way", fullDisk{free: len(archive) / 2}},
		{"write fails at the first byte", fullDisk{free: 0}},
		{"flush fails", fullDisk{free: len(archive), syncFails: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c, err := New(dir, WithTransport(loopbackOnly(t)))
			if err != nil {
				t.Fatal(err)
			}
			c.createTemp = func(dir, pattern string) (tempFile, error) {
				f, err := os.CreateTemp(dir, pattern)
				if err != nil {
					return nil, err
				}
				d := tc.disk
				d.File = f
				return &d, nil
			}
			_, err = c.Get(context.Background(), ref)
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("pull onto a full disk: %v, want ENOSPC", err)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("a failed write left %v in the cache", ents)
			}
			var missing *MissingError
			if _, err := c.Lookup(ref); !errors.As(err, &missing) {
				t.Errorf("after a failed write the chart is not missing: %v", err)
			}

			// The next run, with space again, recovers.
			c.createTemp = osCreateTemp
			p, err := c.Get(context.Background(), ref)
			if err != nil {
				t.Fatalf("pull with space again: %v", err)
			}
			got, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(got, archive) {
				t.Fatalf("cached archive differs from the served one (err %v)", err)
			}
			if _, err := loader.Load(p); err != nil {
				t.Errorf("cached archive does not load: %v", err)
			}
		})
	}
}
