package render

import (
	"bufio"
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"time"

	chart "helm.sh/helm/v4/pkg/chart/v2"
)

// childEnv, set to "1", makes a binary that links this package a render
// process: it reads one render request on stdin, writes the answer on
// stdout and exits (see the package documentation).
const childEnv = "GITOPS_LOCAL_RENDER_CHILD"

// Exit codes of the render process, besides 0.
const (
	childExitProtocol = 3 // the request could not be read or the answer written
	childExitMemory   = 4 // the memory watchdog stopped the render
	childExitTimeout  = 5 // the render outlived its deadline and its parent's kill
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

// childRequest is what the render process is asked; Limits are sent
// before it, so that they hold while it is read.
type childRequest struct {
	Chart       *wireChart
	ReleaseName string
	Namespace   string
	KubeVersion string
	APIVersions []string
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

// serveChild answers one render request read from in on out and returns
// the process's exit code.
func serveChild(in io.Reader, out, errOut io.Writer) int {
	dec := gob.NewDecoder(bufio.NewReader(in))
	var lim Limits
	if err := dec.Decode(&lim); err != nil {
		fmt.Fprintf(errOut, "render process: reading the limits: %v\n", err)
		return childExitProtocol
	}
	lim = lim.withDefaults()
	// The parent kills this process at lim.Timeout; should the parent be
	// gone without taking it along (no parent-death signal outside
	// Linux), it ends itself shortly after.
	time.AfterFunc(lim.Timeout+5*time.Second, func() { os.Exit(childExitTimeout) })
	limitMemory(lim.MaxMemoryBytes)
	debug.SetMemoryLimit(lim.MaxMemoryBytes / 4 * 3)
	go watchMemory(lim.MaxMemoryBytes, errOut)

	var req childRequest
	if err := dec.Decode(&req); err != nil {
		fmt.Fprintf(errOut, "render process: reading the request: %v\n", err)
		return childExitProtocol
	}
	resp := answer(&req, lim)
	w := bufio.NewWriter(out)
	if err := gob.NewEncoder(w).Encode(resp); err != nil {
		fmt.Fprintf(errOut, "render process: writing the answer: %v\n", err)
		return childExitProtocol
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(errOut, "render process: writing the answer: %v\n", err)
		return childExitProtocol
	}
	return 0
}

// answer renders req.
func answer(req *childRequest, lim Limits) *childResponse {
	ch, err := chartFromWire(req.Chart)
	if err != nil {
		return &childResponse{Err: fmt.Sprintf("reading the chart: %v", err)}
	}
	values, _ := fromWire(req.Values).(map[string]any)
	opts := Options{
		ReleaseName: req.ReleaseName,
		Namespace:   req.Namespace,
		Values:      values,
		IncludeCRDs: req.IncludeCRDs,
		KubeVersion: req.KubeVersion,
		APIVersions: req.APIVersions,
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

// maxStderr bounds what is kept of the render process's error output.
const maxStderr = 16 << 10

// renderIsolated renders ch (whose values are validated) in a render
// process, within opts.Limits.
func renderIsolated(ctx context.Context, ch *chart.Chart, opts Options) (*Result, error) {
	lim := opts.Limits.withDefaults()
	wc, err := chartToWire(ch)
	if err != nil {
		return nil, err
	}
	values, err := toWire(opts.Values)
	if err != nil {
		return nil, fmt.Errorf("values%w", err)
	}
	var in bytes.Buffer
	enc := gob.NewEncoder(&in)
	if err := enc.Encode(lim); err != nil {
		return nil, fmt.Errorf("encoding the render request: %w", err)
	}
	req := childRequest{
		Chart:       wc,
		ReleaseName: opts.ReleaseName,
		Namespace:   opts.Namespace,
		KubeVersion: opts.KubeVersion,
		APIVersions: opts.APIVersions,
		IncludeCRDs: opts.IncludeCRDs,
		Values:      values,
	}
	if err := enc.Encode(&req); err != nil {
		return nil, fmt.Errorf("encoding the render request: %w", err)
	}

	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("starting the render process: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()
	cmd := exec.CommandContext(rctx, exe)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stdin = &in
	stderr := &boundedBuffer{max: maxStderr}
	cmd.Stderr = stderr
	cmd.SysProcAttr = childProcAttr()
	cmd.WaitDelay = time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("starting the render process: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the render process: %w", err)
	}
	// The answer holds the manifests and the objects decoded from them.
	maxAnswer := 4*lim.MaxManifestBytes + 16<<20
	lr := &io.LimitedReader{R: stdout, N: maxAnswer + 1}
	var resp childResponse
	decErr := gob.NewDecoder(bufio.NewReader(lr)).Decode(&resp)
	tooLarge := lr.N <= 0
	if decErr != nil {
		_ = cmd.Process.Kill()
	}
	waitErr := cmd.Wait()

	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(rctx.Err(), context.DeadlineExceeded):
		return nil, timeoutError(lim)
	case tooLarge:
		return nil, &limitError{fmt.Sprintf("the rendered objects exceed %s: the templates render far more than the %s bound on manifests", formatBytes(maxAnswer), formatBytes(lim.MaxManifestBytes))}
	case exitCode(waitErr) == childExitMemory || strings.Contains(stderr.String(), "out of memory"):
		return nil, memoryError(lim)
	case waitErr != nil || decErr != nil:
		return nil, fmt.Errorf("the render process failed: %w: %s", errors.Join(waitErr, decErr), lastLine(stderr.String()))
	case resp.Err != "" && resp.Limit:
		return nil, &limitError{resp.Err}
	case resp.Err != "":
		return nil, errors.New(resp.Err)
	case resp.Result == nil:
		return nil, errors.New("the render process gave no result")
	}
	return resultFromWire(resp.Result), nil
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

// boundedBuffer keeps the first max bytes written to it.
type boundedBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (b *boundedBuffer) String() string { return b.buf.String() }
