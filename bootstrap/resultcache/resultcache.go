// Package resultcache is a content-addressed store on disk for the results
// of pure, expensive steps (a chart render), so that a run repeats only the
// work its changes require. It is shaped like Go's build cache: an entry is
// named by the SHA-256 of a versioned key (this package's format version,
// the running tool's identity and the caller's digest of every input), is
// written to a temporary file in its own folder and renamed into place,
// and carries a checksum that every read verifies. An entry that cannot be
// read, is truncated or fails its checksum is a miss; the next Put replaces
// it. Concurrent processes share a cache without locks: a reader sees a
// whole entry or none.
//
// The cache is bounded: an entry larger than Options.MaxEntryBytes is not
// stored, and Trim evicts the least recently used entries (a hit refreshes
// an entry's modification time) until the cache fits Options.MaxBytes.
// Trim does the work at most once an hour, or when the process wrote a
// large share of the bound.
//
// Everything is read and written through an os.Root on the cache folder:
// nothing outside it is opened, even through a link planted inside it.
package resultcache

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Environment variables read by OpenDefault.
const (
	// EnvDir names the cache folder; "off" disables the cache.
	EnvDir = "GITOPS_LOCAL_CACHE_DIR"
	// EnvMaxBytes bounds the cache's size, as a Kubernetes quantity
	// ("512Mi", "2Gi") or a number of bytes.
	EnvMaxBytes = "GITOPS_LOCAL_CACHE_MAX_BYTES"
)

// Default bounds.
const (
	DefaultMaxBytes      = 512 << 20
	DefaultMaxEntryBytes = 64 << 20
)

// formatVersion is the version of the entry format and of the key
// derivation; changing either changes it, so that no older entry is read.
const formatVersion = "gitops-local result cache v1"

// magic starts every entry file.
var magic = []byte("GLRC\x00\x01\n\x00")

// headerSize is the size of an entry's header: magic, key, payload length
// and the payload's SHA-256.
const headerSize = 8 + sha256.Size + 8 + sha256.Size

// Options configure a Cache; zero fields take their defaults.
type Options struct {
	// MaxBytes bounds the total size of the entries after a Trim.
	MaxBytes int64
	// MaxEntryBytes bounds one entry's payload: a larger one is not stored.
	MaxEntryBytes int64
	// ToolID identifies the running tool in every key; by default the
	// build information of the binary and the size and modification time
	// of its executable (see toolID). Tests set it to prove that another
	// tool version misses.
	ToolID string
}

// Cache is a result cache in one folder. A nil *Cache is a disabled cache:
// every Get misses and Put stores nothing. It is safe for concurrent use,
// also by several processes sharing the folder.
type Cache struct {
	dir     string
	root    *os.Root
	opts    Options
	salt    [sha256.Size]byte
	written atomic.Int64
}

// Open opens (creating it, mode 0700) the cache in dir.
func Open(dir string, opts Options) (*Cache, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.MaxEntryBytes <= 0 {
		opts.MaxEntryBytes = DefaultMaxEntryBytes
	}
	if opts.ToolID == "" {
		opts.ToolID = toolID()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("result cache %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("result cache %s: %w", dir, err)
	}
	c := &Cache{dir: dir, root: root, opts: opts}
	h := sha256.New()
	writeField(h, []byte(formatVersion))
	writeField(h, []byte(opts.ToolID))
	h.Sum(c.salt[:0])
	return c, nil
}

// OpenDefault opens the cache named by the environment: EnvDir, else
// gitops-local/results under the user cache folder; with EnvMaxBytes as
// its bound. It returns a nil (disabled) cache when EnvDir is "off", and
// in a test binary unless EnvDir is set, so that tests never write to the
// user's cache.
func OpenDefault(getenv func(string) string) (*Cache, error) {
	dir := getenv(EnvDir)
	if dir == "off" || dir == "" && testing.Testing() {
		return nil, nil
	}
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("result cache: no user cache folder (set %s, or %s=off): %w", EnvDir, EnvDir, err)
		}
		dir = filepath.Join(base, "gitops-local", "results")
	}
	var opts Options
	if s := getenv(EnvMaxBytes); s != "" {
		q, err := resource.ParseQuantity(s)
		if err != nil || q.Sign() <= 0 {
			return nil, fmt.Errorf("%s=%q: want a positive size such as 512Mi", EnvMaxBytes, s)
		}
		opts.MaxBytes = q.Value()
	}
	return Open(dir, opts)
}

// Dir is the cache's folder.
func (c *Cache) Dir() string { return c.dir }

// Close releases the cache's folder.
func (c *Cache) Close() error {
	if c == nil {
		return nil
	}
	return c.root.Close()
}

// toolID identifies the running binary: its build information (module
// versions and sums, VCS revision and state, build settings) and, for
// builds from a changed or unknown tree whose code the build information
// does not pin, the size and modification time of the executable.
func toolID() string {
	var b strings.Builder
	if bi, ok := debug.ReadBuildInfo(); ok {
		b.WriteString(bi.String())
	}
	if exe, err := os.Executable(); err == nil {
		if st, err := os.Stat(exe); err == nil {
			fmt.Fprintf(&b, "\nexecutable %d %d", st.Size(), st.ModTime().UnixNano())
		}
	}
	return b.String()
}

// writeField writes p to w preceded by its length, so that a sequence of
// fields has one encoding.
func writeField(w io.Writer, p []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(p)))
	w.Write(n[:])
	w.Write(p)
}

// key is the name of the entry for input, a caller's digest of every
// input of its step (the kind of step and its own format version among
// them).
func (c *Cache) key(input [sha256.Size]byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write(c.salt[:])
	h.Write(input[:])
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// entryPath is where the entry named k lives, relative to the cache's
// folder: in one of 256 subfolders, as Go's build cache spreads them.
func entryPath(k [sha256.Size]byte) string {
	name := hex.EncodeToString(k[:])
	return path.Join(name[:2], name+"-r")
}

// mtimeInterval is how stale an entry's modification time may be before a
// hit refreshes it: finer than the hour between trims is not needed.
const mtimeInterval = time.Hour

// Get returns the payload stored for input. Anything unreadable, a
// truncated entry, an entry of another key or format, or one failing its
// checksum is a miss.
func (c *Cache) Get(input [sha256.Size]byte) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	k := c.key(input)
	p := entryPath(k)
	f, err := c.root.Open(p)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() < headerSize || st.Size() > headerSize+c.opts.MaxEntryBytes {
		return nil, false
	}
	data := make([]byte, st.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, false
	}
	payload, ok := decodeEntry(k, data)
	if !ok {
		return nil, false
	}
	if now := time.Now(); now.Sub(st.ModTime()) > mtimeInterval {
		_ = c.root.Chtimes(p, now, now) // a failure costs only recency
	}
	return payload, true
}

// decodeEntry checks an entry file's data against its key and returns its
// payload.
func decodeEntry(k [sha256.Size]byte, data []byte) ([]byte, bool) {
	if len(data) < headerSize || !bytes.Equal(data[:8], magic) || !bytes.Equal(data[8:8+sha256.Size], k[:]) {
		return nil, false
	}
	n := binary.BigEndian.Uint64(data[8+sha256.Size:])
	payload := data[headerSize:]
	if uint64(len(payload)) != n {
		return nil, false
	}
	sum := sha256.Sum256(payload)
	if !bytes.Equal(sum[:], data[8+sha256.Size+8:headerSize]) {
		return nil, false
	}
	return payload, true
}

// ErrTooLarge is returned by Put for a payload over Options.MaxEntryBytes.
var ErrTooLarge = errors.New("result cache: entry too large")

// Put stores payload for input, replacing any entry there: it is written
// to a new file (mode 0600) beside the entry and renamed over it, so that
// readers see the old entry or the new one, never part of one.
func (c *Cache) Put(input [sha256.Size]byte, payload []byte) error {
	if c == nil {
		return nil
	}
	if int64(len(payload)) > c.opts.MaxEntryBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(payload), c.opts.MaxEntryBytes)
	}
	k := c.key(input)
	p := entryPath(k)
	if err := c.root.Mkdir(path.Dir(p), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("result cache: %w", err)
	}
	sum := sha256.Sum256(payload)
	header := make([]byte, 0, headerSize)
	header = append(header, magic...)
	header = append(header, k[:]...)
	header = binary.BigEndian.AppendUint64(header, uint64(len(payload)))
	header = append(header, sum[:]...)

	tmp := path.Join(path.Dir(p), tempPrefix+rand.Text())
	f, err := c.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("result cache: %w", err)
	}
	_, err = f.Write(header)
	if err == nil {
		_, err = f.Write(payload)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = c.root.Rename(tmp, p)
	}
	if err != nil {
		_ = c.root.Remove(tmp)
		return fmt.Errorf("result cache: %w", err)
	}
	c.written.Add(int64(headerSize + len(payload)))
	return nil
}

// tempPrefix starts the names of entries being written.
const tempPrefix = ".tmp-"

// trimFile holds the time of the last trim.
const trimFile = "trim.txt"

// trimInterval is how often Trim walks the cache.
const trimInterval = time.Hour

// Trim evicts the least recently used entries until the cache fits
// Options.MaxBytes, and removes files of writes that never finished. It
// does so at most once per trimInterval across processes, unless this
// process wrote more than an eighth of the bound.
func (c *Cache) Trim() error {
	if c == nil {
		return nil
	}
	now := time.Now()
	if data, err := c.root.ReadFile(trimFile); err == nil && c.written.Load() < c.opts.MaxBytes/8 {
		if sec, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64); err == nil {
			if last := time.Unix(sec, 0); now.Sub(last) < trimInterval && !last.After(now) {
				return nil
			}
		}
	}
	if err := c.trim(now); err != nil {
		return err
	}
	c.written.Store(0)
	return c.writeTrimTime(now)
}

// writeTrimTime records now as the time of the last trim.
func (c *Cache) writeTrimTime(now time.Time) error {
	tmp := tempPrefix + "trim-" + rand.Text()
	if err := c.root.WriteFile(tmp, []byte(strconv.FormatInt(now.Unix(), 10)+"\n"), 0o600); err != nil {
		return fmt.Errorf("result cache: %w", err)
	}
	if err := c.root.Rename(tmp, trimFile); err != nil {
		_ = c.root.Remove(tmp)
		return fmt.Errorf("result cache: %w", err)
	}
	return nil
}

// staleTemp is the age past which a temporary file is a write that died.
const staleTemp = time.Hour

type entryInfo struct {
	path  string
	size  int64
	mtime time.Time
}

// trim evicts least recently used entries until the total fits.
func (c *Cache) trim(now time.Time) error {
	var entries []entryInfo
	var total int64
	dirs, err := fs.ReadDir(c.root.FS(), ".")
	if err != nil {
		return fmt.Errorf("result cache: %w", err)
	}
	for _, d := range dirs {
		if strings.HasPrefix(d.Name(), tempPrefix) {
			if info, err := d.Info(); err == nil && now.Sub(info.ModTime()) > staleTemp {
				_ = c.root.Remove(d.Name())
			}
			continue
		}
		if !d.IsDir() || len(d.Name()) != 2 {
			continue
		}
		files, err := fs.ReadDir(c.root.FS(), d.Name())
		if err != nil {
			continue
		}
		for _, f := range files {
			info, err := f.Info()
			if err != nil || !info.Mode().IsRegular() {
				continue
			}
			p := path.Join(d.Name(), f.Name())
			if strings.HasPrefix(f.Name(), tempPrefix) {
				if now.Sub(info.ModTime()) > staleTemp {
					_ = c.root.Remove(p)
				}
				continue
			}
			entries = append(entries, entryInfo{path: p, size: info.Size(), mtime: info.ModTime()})
			total += info.Size()
		}
	}
	if total <= c.opts.MaxBytes {
		return nil
	}
	slices.SortFunc(entries, func(a, b entryInfo) int {
		if c := a.mtime.Compare(b.mtime); c != 0 {
			return c
		}
		return strings.Compare(a.path, b.path)
	})
	for _, e := range entries {
		if total <= c.opts.MaxBytes {
			break
		}
		if err := c.root.Remove(e.path); err == nil || errors.Is(err, fs.ErrNotExist) {
			total -= e.size
		}
	}
	return nil
}
