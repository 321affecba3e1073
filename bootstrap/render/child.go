package render

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"time"
)

// childEnv, set to "1", makes a binary that links this package a render
// process: it reads render requests on stdin and writes each answer on
// stdout, in turn, until stdin ends (see the package documentation and
// pool.go).
const childEnv = "GITOPS_LOCAL_RENDER_CHILD"

// Exit codes of the render process, besides 0.
const (
	childExitProtocol = 3 // a request could not be read or an answer written
	childExitMemory   = 4 // the memory watchdog stopped the render
	childExitTimeout  = 5 // a render outlived its deadline and its parent's kill
)

// init turns the process into a render process when childEnv is set. It is
// an init function, not a hidden command, so that every binary linking the
// renderer can render in a child: the CLI and each package's test binary.
func init() {
	if os.Getenv(childEnv) != "1" {
		return
	}
	os.Exit(serveChild(os.Stdin, os.Stdout, os.Stderr))
}

// childRequest is what the render process is asked; the process's Limits
// are sent once, before the first request, so that they hold while it is
// read.
type childRequest struct {
	Chart       *wireChart
	ReleaseName string
	Namespace   string
	KubeVersion string
	APIVersions []string
	ExactAPIs   bool
	IncludeCRDs bool
	Values      wireValue
}

// childResponse is the render process's answer.
type childResponse struct {
	Result *wireResult
	Err    string
	// Limit is set when Err is a limitError.
	Limit bool
}

// maxRequestBytes bounds a request frame the render process reads: a
// chart as the parent loaded it, far past any real one.
const maxRequestBytes = 1 << 30

// serveChild answers the render requests read from in on out, one after
// the other, and returns the process's exit code: 0 when in ends.
func serveChild(in io.Reader, out, errOut io.Writer) int {
	r := bufio.NewReader(in)
	var lim Limits
	if err := readFrame(r, maxRequestBytes, &lim); err != nil {
		fmt.Fprintf(errOut, "render process: reading the limits: %v\n", err)
		return childExitProtocol
	}
	lim = lim.withDefaults()
	limitMemory(lim.MaxMemoryBytes)
	debug.SetMemoryLimit(lim.MaxMemoryBytes / 4 * 3)
	go watchMemory(lim.MaxMemoryBytes, errOut)

	w := bufio.NewWriter(out)
	for {
		var req childRequest
		err := readFrame(r, maxRequestBytes, &req)
		if errors.Is(err, io.EOF) {
			return 0
		}
		if err != nil {
			fmt.Fprintf(errOut, "render process: reading the request: %v\n", err)
			return childExitProtocol
		}
		// The parent kills this process at lim.Timeout; should the parent
		// be gone without taking it along (no parent-death signal outside
		// Linux), it ends itself shortly after.
		deadline := time.AfterFunc(lim.Timeout+5*time.Second, func() { os.Exit(childExitTimeout) })
		resp := answer(&req, lim)
		deadline.Stop()
		if err := writeFrame(w, resp); err != nil {
			fmt.Fprintf(errOut, "render process: writing the answer: %v\n", err)
			return childExitProtocol
		}
		// What this render held is garbage now: give it back, so that the
		// next render's memory is measured from the process's base.
		req, resp = childRequest{}, nil
		debug.FreeOSMemory()
	}
}

// writeFrame writes v to w as one frame: its length as 8 bytes, big
// endian, then v gob-encoded on its own (each frame decodes alone).
func writeFrame(w *bufio.Writer, v any) error {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(v); err != nil {
		return err
	}
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(buf.Len()))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return err
	}
	return w.Flush()
}

// errFrameTooLarge is a frame longer than its reader allows.
var errFrameTooLarge = errors.New("frame too large")

// readFrame reads one frame written by writeFrame into v; io.EOF when r
// ends before a frame starts, errFrameTooLarge past max bytes.
func readFrame(r *bufio.Reader, max int64, v any) error {
	var n [8]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("reading a frame: %w", err)
		}
		return err
	}
	size := binary.BigEndian.Uint64(n[:])
	if size > uint64(max) {
		return fmt.Errorf("%w: %d bytes, at most %d", errFrameTooLarge, size, max)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(r, buf); err != nil {
		return fmt.Errorf("reading a frame: %w", err)
	}
	return gob.NewDecoder(bytes.NewReader(buf)).Decode(v)
}

// answer renders req.
func answer(req *childRequest, lim Limits) *childResponse {
	ch, err := chartFromWire(req.Chart)
	if err != nil {
		return &childResponse{Err: fmt.Sprintf("reading the chart: %v", err)}
	}
	values, _ := fromWire(req.Values).(map[string]any)
	opts := Options{
		ReleaseName:      req.ReleaseName,
		Namespace:        req.Namespace,
		Values:           values,
		IncludeCRDs:      req.IncludeCRDs,
		KubeVersion:      req.KubeVersion,
		APIVersions:      req.APIVersions,
		ExactAPIVersions: req.ExactAPIs,
	}
	res, err := renderTemplates(context.Background(), ch, opts, lim.MaxManifestBytes)
	if err != nil {
		return &childResponse{Err: err.Error(), Limit: errors.Is(err, ErrLimit)}
	}
	wr, err := resultToWire(res)
	if err != nil {
		return &childResponse{Err: err.Error()}
	}
	return &childResponse{Result: wr}
}

// watchMemory ends the process as soon as the memory the Go runtime holds
// exceeds limit. limitMemory catches what grows faster than it looks.
func watchMemory(limit int64, errOut io.Writer) {
	samples := []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for range t.C {
		metrics.Read(samples)
		used := int64(samples[0].Value.Uint64() - samples[1].Value.Uint64())
		if used > limit {
			fmt.Fprintf(errOut, "render process: out of memory: %d bytes in use, limit %d\n", used, limit)
			os.Exit(childExitMemory)
		}
	}
}

// exitCode is the exit code in err from exec.Cmd.Wait, or -1.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// boundedBuffer keeps the first max bytes written to it since it was last
// reset. It is safe for concurrent use.
type boundedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *boundedBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}
