package resultcache

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func input(s string) [sha256.Size]byte { return sha256.Sum256([]byte(s)) }

func open(t *testing.T, dir string, opts Options) *Cache {
	t.Helper()
	c, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// entryFile is the file of input's entry in c.
func entryFile(c *Cache, in [sha256.Size]byte) string {
	return filepath.Join(c.dir, filepath.FromSlash(entryPath(c.key(in))))
}

func TestPutGetAndModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	c := open(t, dir, Options{ToolID: "tool 1"})
	if _, ok := c.Get(input("a")); ok {
		t.Fatal("an empty cache hit")
	}
	if err := c.Put(input("a"), []byte("result a")); err != nil {
		t.Fatal(err)
	}
	got, ok := c.Get(input("a"))
	if !ok || string(got) != "result a" {
		t.Fatalf("Get after Put: %q %v, want %q", got, ok, "result a")
	}
	if _, ok := c.Get(input("b")); ok {
		t.Fatal("another input hit")
	}
	// Another process of the same tool sees the entry; another tool
	// version does not.
	if got, ok := open(t, dir, Options{ToolID: "tool 1"}).Get(input("a")); !ok || string(got) != "result a" {
		t.Fatalf("a second cache on the folder: %q %v", got, ok)
	}
	if _, ok := open(t, dir, Options{ToolID: "tool 2"}).Get(input("a")); ok {
		t.Fatal("another tool version read the entry")
	}
	if runtime.GOOS == "windows" {
		return
	}
	for _, p := range []string{dir, filepath.Dir(entryFile(c, input("a")))} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("folder %s: mode %v (%v), want 0700", p, st.Mode().Perm(), err)
		}
	}
	if st, err := os.Stat(entryFile(c, input("a"))); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("entry: mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
}

func TestDefaultToolIDNamesTheBinary(t *testing.T) {
	id := toolID()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(exe)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("executable %d %d", st.Size(), st.ModTime().UnixNano()); !bytes.Contains([]byte(id), []byte(want)) {
		t.Fatalf("tool ID %q does not name the executable (%q)", id, want)
	}
}

func TestCorruptEntriesMissAndAreReplaced(t *testing.T) {
	c := open(t, t.TempDir(), Options{ToolID: "t"})
	in := input("k")
	good := []byte("the payload of the entry")
	corruptions := map[string]func(data []byte) []byte{
		"payload byte flipped":  func(d []byte) []byte { d[len(d)-1] ^= 1; return d },
		"checksum byte flipped": func(d []byte) []byte { d[headerSize-1] ^= 1; return d },
		"truncated":             func(d []byte) []byte { return d[:len(d)-3] },
		"header only":           func(d []byte) []byte { return d[:headerSize] },
		"shorter than a header": func(d []byte) []byte { return d[:10] },
		"empty":                 func(d []byte) []byte { return nil },
		"extended":              func(d []byte) []byte { return append(d, 'x') },
		"another magic":         func(d []byte) []byte { d[0] = 'X'; return d },
		"another key's entry": func(d []byte) []byte {
			other := open(t, t.TempDir(), Options{ToolID: "t"})
			if err := other.Put(input("other"), good); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(entryFile(other, input("other")))
			if err != nil {
				t.Fatal(err)
			}
			return data
		},
	}
	for name, corrupt := range corruptions {
		t.Run(name, func(t *testing.T) {
			if err := c.Put(in, good); err != nil {
				t.Fatal(err)
			}
			p := entryFile(c, in)
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, corrupt(data), 0o600); err != nil {
				t.Fatal(err)
			}
			if got, ok := c.Get(in); ok {
				t.Fatalf("a corrupt entry hit: %q", got)
			}
			if err := c.Put(in, []byte("recomputed")); err != nil {
				t.Fatal(err)
			}
			if got, ok := c.Get(in); !ok || string(got) != "recomputed" {
				t.Fatalf("after Put over the corrupt entry: %q %v", got, ok)
			}
		})
	}
	t.Run("a folder in place of the entry", func(t *testing.T) {
		in := input("dir")
		if err := os.MkdirAll(entryFile(c, in), 0o700); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.Get(in); ok {
			t.Fatal("a folder hit")
		}
	})
}

func TestLinksOutOfTheCacheAreNotFollowed(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs symbolic links, which Windows grants only to some users")
	}
	c := open(t, t.TempDir(), Options{ToolID: "t"})
	// A valid entry outside the cache, linked to from inside it.
	outside := open(t, t.TempDir(), Options{ToolID: "t"})
	in := input("linked")
	if err := outside.Put(in, []byte("from outside")); err != nil {
		t.Fatal(err)
	}
	p := entryFile(c, in)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(entryFile(outside, in), p); err != nil {
		t.Fatal(err)
	}
	if got, ok := c.Get(in); ok {
		t.Fatalf("read %q through a link out of the cache", got)
	}
}

func TestTooLargeEntriesAreRefused(t *testing.T) {
	c := open(t, t.TempDir(), Options{ToolID: "t", MaxEntryBytes: 10})
	if err := c.Put(input("big"), make([]byte, 11)); err == nil {
		t.Fatal("an 11-byte entry was stored under a 10-byte limit")
	}
	if _, ok := c.Get(input("big")); ok {
		t.Fatal("the refused entry hit")
	}
	if err := c.Put(input("small"), make([]byte, 10)); err != nil {
		t.Fatalf("an entry at the limit: %v", err)
	}
}

func TestTrimEvictsLeastRecentlyUsed(t *testing.T) {
	const payload = 1000
	entry := int64(headerSize + payload)
	c := open(t, t.TempDir(), Options{ToolID: "t", MaxBytes: 3 * entry})
	base := time.Now().Add(-10 * time.Hour)
	for i := range 5 {
		in := input(strconv.Itoa(i))
		if err := c.Put(in, bytes.Repeat([]byte{byte(i)}, payload)); err != nil {
			t.Fatal(err)
		}
		// Entry i was last used i hours after base.
		at := base.Add(time.Duration(i) * time.Hour)
		if err := os.Chtimes(entryFile(c, in), at, at); err != nil {
			t.Fatal(err)
		}
	}
	// A hit makes entry 0, the oldest, the most recently used.
	if _, ok := c.Get(input("0")); !ok {
		t.Fatal("entry 0 missed")
	}
	if st, _ := os.Stat(entryFile(c, input("0"))); time.Since(st.ModTime()) > time.Minute {
		t.Fatalf("a hit left the entry's time at %v", st.ModTime())
	}
	// A write that died long ago, and one going on.
	stale := filepath.Join(filepath.Dir(entryFile(c, input("0"))), tempPrefix+"dead")
	fresh := filepath.Join(filepath.Dir(entryFile(c, input("0"))), tempPrefix+"writing")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(stale, base, base); err != nil {
		t.Fatal(err)
	}

	if err := c.Trim(); err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false, false, true, true} {
		if _, ok := c.Get(input(strconv.Itoa(i))); ok != want {
			t.Errorf("entry %d kept %v, want %v (entries 1 and 2 are the least recently used)", i, ok, want)
		}
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the stale partial write is still there: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("trim removed a write in progress: %v", err)
	}

	// Trimmed a moment ago: another process's Trim does not walk the cache.
	other := open(t, c.dir, Options{ToolID: "t", MaxBytes: entry})
	if err := other.Trim(); err != nil {
		t.Fatal(err)
	}
	if n := countEntries(t, c.dir); n != 3 {
		t.Fatalf("a trim within the hour evicted: %d entries left, want 3", n)
	}
	// Unless it wrote a large share of the bound itself.
	if err := other.Put(input("5"), make([]byte, payload)); err != nil {
		t.Fatal(err)
	}
	if err := other.Trim(); err != nil {
		t.Fatal(err)
	}
	if n := countEntries(t, c.dir); n != 1 {
		t.Fatalf("after a trim to one entry's size: %d entries, want 1", n)
	}
	if _, ok := other.Get(input("5")); !ok {
		t.Fatal("the trim evicted the newest entry")
	}
}

func countEntries(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && filepath.Dir(p) != dir && !strings.HasPrefix(d.Name(), tempPrefix) {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOpenDefault(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if c, err := OpenDefault(env(nil)); c != nil || err != nil {
		t.Fatalf("in a test binary without %s: %v %v, want a disabled cache", EnvDir, c, err)
	}
	if c, err := OpenDefault(env(map[string]string{EnvDir: "off"})); c != nil || err != nil {
		t.Fatalf("%s=off: %v %v, want a disabled cache", EnvDir, c, err)
	}
	dir := t.TempDir()
	c, err := OpenDefault(env(map[string]string{EnvDir: dir, EnvMaxBytes: "2Mi"}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Dir() != dir || c.opts.MaxBytes != 2<<20 {
		t.Fatalf("dir %s, bound %d; want %s, %d", c.Dir(), c.opts.MaxBytes, dir, 2<<20)
	}
	for _, bad := range []string{"lots", "-1", "0"} {
		if _, err := OpenDefault(env(map[string]string{EnvDir: dir, EnvMaxBytes: bad})); err == nil {
			t.Errorf("%s=%q accepted", EnvMaxBytes, bad)
		}
	}
	var disabled *Cache
	if _, ok := disabled.Get(input("a")); ok || disabled.Put(input("a"), nil) != nil || disabled.Trim() != nil {
		t.Fatal("a disabled cache is not inert")
	}
}

// concurrencyChildEnv makes TestConcurrentProcesses's child processes run
// the worker.
const concurrencyChildEnv = "GITOPS_LOCAL_RESULTCACHE_WORKER"

// payloadFor is the only payload ever written for key i, so that any
// other read is a torn or mixed entry.
func payloadFor(i int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("payload %d;", i)), 2000+i*100)
}

// hammer writes and reads keys 0..7 of the cache in dir rounds times,
// failing on any read that is not the key's one payload, and on any miss
// of a key once stored: nothing evicts here, so a miss is a reader that
// saw part of an entry being written.
func hammer(dir string, rounds int) error {
	c, err := Open(dir, Options{ToolID: "t", MaxBytes: 1 << 30})
	if err != nil {
		return err
	}
	defer c.Close()
	var stored [8]bool
	for r := range rounds {
		for i := range 8 {
			in := input(strconv.Itoa(i))
			got, ok := c.Get(in)
			if ok && !bytes.Equal(got, payloadFor(i)) {
				return fmt.Errorf("round %d: key %d read %d bytes that are not its payload", r, i, len(got))
			}
			if !ok && stored[i] {
				return fmt.Errorf("round %d: key %d, stored earlier, missed", r, i)
			}
			if (r+i)%2 == 0 {
				if err := c.Put(in, payloadFor(i)); err != nil {
					return err
				}
				stored[i] = true
			}
		}
	}
	return nil
}

func TestConcurrentGoroutines(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() { errs <- hammer(dir, 30) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	checkAllPresent(t, dir)
}

func TestConcurrentProcesses(t *testing.T) {
	if os.Getenv(concurrencyChildEnv) != "" {
		if err := hammer(os.Getenv(concurrencyChildEnv), 30); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	dir := t.TempDir()
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestConcurrentProcesses$", "-test.count=1")
		cmd.Env = append(os.Environ(), concurrencyChildEnv+"="+dir)
		out := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		outs = append(outs, out)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("process %d: %v\n%s", i, err, outs[i])
		}
	}
	checkAllPresent(t, dir)
}

// checkAllPresent checks that every key's entry is whole and that no
// temporary file is left.
func checkAllPresent(t *testing.T, dir string) {
	t.Helper()
	c := open(t, dir, Options{ToolID: "t"})
	for i := range 8 {
		if got, ok := c.Get(input(strconv.Itoa(i))); !ok || !bytes.Equal(got, payloadFor(i)) {
			t.Errorf("key %d after the writers: hit %v, %d bytes", i, ok, len(got))
		}
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), tempPrefix) {
			t.Errorf("a temporary file is left: %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
