package render

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	chart "helm.sh/helm/v4/pkg/chart/v2"
)

// Render processes are kept between renders: starting one costs more than
// most renders (the binary's pages, its packages' init), and a run renders
// dozens of charts. A process renders one chart at a time, within the
// Limits it was started with; one that fails, overruns or is cancelled is
// killed and never reused, so a render still cannot affect another beyond
// its own process.
const (
	// maxStderr bounds what is kept of a render process's error output
	// for one render.
	maxStderr = 16 << 10
	// idleTimeout is how long an idle render process is kept.
	idleTimeout = 30 * time.Second
)

// processesStarted counts the render processes started (for tests).
var processesStarted atomic.Int64

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
	req := &childRequest{
		Chart:       wc,
		ReleaseName: opts.ReleaseName,
		Namespace:   opts.Namespace,
		KubeVersion: opts.KubeVersion,
		APIVersions: opts.APIVersions,
		ExactAPIs:   opts.ExactAPIVersions,
		IncludeCRDs: opts.IncludeCRDs,
		Values:      values,
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := processes.get(lim)
	if err != nil {
		return nil, fmt.Errorf("starting the render process: %w", err)
	}
	// The answer holds the manifests and the objects decoded from them.
	maxAnswer := 4*lim.MaxManifestBytes + 16<<20
	type outcome struct {
		resp childResponse
		err  error
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		o.err = p.exchange(req, maxAnswer, &o.resp)
		done <- o
	}()
	timer := time.NewTimer(lim.Timeout)
	defer timer.Stop()
	var o outcome
	select {
	case o = <-done:
	case <-ctx.Done():
		p.kill()
		<-done
		return nil, ctx.Err()
	case <-timer.C:
		p.kill()
		<-done
		return nil, timeoutError(lim)
	}

	if o.err != nil {
		p.kill()
		<-p.exited
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.Is(o.err, errFrameTooLarge):
			return nil, &limitError{fmt.Sprintf("the rendered objects exceed %s: the templates render far more than the %s bound on manifests", formatBytes(maxAnswer), formatBytes(lim.MaxManifestBytes))}
		case exitCode(p.waitErr) == childExitMemory || strings.Contains(p.stderr.String(), "out of memory"):
			return nil, memoryError(lim)
		default:
			return nil, fmt.Errorf("the render process failed: %w: %s", errors.Join(p.waitErr, o.err), lastLine(p.stderr.String()))
		}
	}
	processes.put(p)
	resp := o.resp
	switch {
	case resp.Err != "" && resp.Limit:
		return nil, &limitError{resp.Err}
	case resp.Err != "":
		return nil, errors.New(resp.Err)
	case resp.Result == nil:
		return nil, errors.New("the render process gave no result")
	}
	res, err := resultFromWire(resp.Result)
	if err != nil {
		return nil, fmt.Errorf("the render process's answer: %w", err)
	}
	return res, nil
}

// renderProcess is a running render process.
type renderProcess struct {
	lim    Limits
	cmd    *exec.Cmd
	in     *os.File
	out    *bufio.Reader
	outF   *os.File
	stderr *boundedBuffer

	exited  chan struct{} // closed once the process is waited for
	waitErr error         // set before exited is closed

	idleSince time.Time
}

// startProcess starts a render process bound by lim and sends it lim.
func startProcess(lim Limits) (*renderProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	p := &renderProcess{
		lim:    lim,
		in:     inW,
		out:    bufio.NewReader(outR),
		outF:   outR,
		stderr: &boundedBuffer{max: maxStderr},
		exited: make(chan struct{}),
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	// The pipes are the process's own files, not copied by goroutines
	// that Wait would close under a reader.
	cmd.Stdin = inR
	cmd.Stdout = outW
	cmd.Stderr = p.stderr
	cmd.SysProcAttr = childProcAttr()
	p.cmd = cmd
	err = spawn(cmd)
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, err
	}
	processesStarted.Add(1)
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	if err := writeFrame(bufio.NewWriter(p.in), lim); err != nil {
		p.kill()
		<-p.exited
		return nil, fmt.Errorf("sending the limits: %w", err)
	}
	return p, nil
}

// exchange sends req and reads the answer into resp; a frame longer than
// maxAnswer is errFrameTooLarge.
func (p *renderProcess) exchange(req *childRequest, maxAnswer int64, resp *childResponse) error {
	p.stderr.Reset()
	if err := writeFrame(bufio.NewWriter(p.in), req); err != nil {
		return fmt.Errorf("sending the request: %w", err)
	}
	if err := readFrame(p.out, maxAnswer, resp); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("reading the answer: %w", io.ErrUnexpectedEOF)
		}
		return fmt.Errorf("reading the answer: %w", err)
	}
	return nil
}

// kill stops the process and releases its pipes.
func (p *renderProcess) kill() {
	_ = p.cmd.Process.Kill()
	p.in.Close()
	p.outF.Close()
}

// close ends an idle process: it exits when its input ends.
func (p *renderProcess) close() {
	p.in.Close()
	go func() {
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
		}
		p.outF.Close()
	}()
}

// processPool holds the idle render processes.
type processPool struct {
	mu      sync.Mutex
	idle    []*renderProcess
	reaping bool
}

var processes processPool

// get takes an idle process started with lim, or starts one.
func (pp *processPool) get(lim Limits) (*renderProcess, error) {
	pp.mu.Lock()
	for i := len(pp.idle) - 1; i >= 0; i-- {
		p := pp.idle[i]
		if p.lim != lim {
			continue
		}
		pp.idle = append(pp.idle[:i], pp.idle[i+1:]...)
		select {
		case <-p.exited: // it died idle (killed from outside)
			p.kill()
			continue
		default:
		}
		pp.mu.Unlock()
		return p, nil
	}
	pp.mu.Unlock()
	return startProcess(lim)
}

// put keeps p for the next render: up to one idle process per CPU, the
// one idle longest closed to make room.
func (pp *processPool) put(p *renderProcess) {
	p.idleSince = time.Now()
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if len(pp.idle) >= runtime.GOMAXPROCS(0) {
		pp.idle[0].close()
		pp.idle = pp.idle[1:]
	}
	pp.idle = append(pp.idle, p)
	if !pp.reaping {
		pp.reaping = true
		go pp.reap()
	}
}

// reap closes the processes idle for longer than idleTimeout, until none
// is left.
func (pp *processPool) reap() {
	t := time.NewTicker(idleTimeout / 4)
	defer t.Stop()
	for range t.C {
		pp.mu.Lock()
		keep := pp.idle[:0]
		for _, p := range pp.idle {
			if time.Since(p.idleSince) > idleTimeout {
				p.close()
				continue
			}
			keep = append(keep, p)
		}
		pp.idle = keep
		if len(keep) == 0 {
			pp.reaping = false
			pp.mu.Unlock()
			return
		}
		pp.mu.Unlock()
	}
}

// spawn starts cmd from one goroutine locked to its thread for the
// program's life: Linux sends a parent-death signal when the thread that
// started a process ends, not the process, and a render process outlives
// the goroutine that asked for it.
func spawn(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnRequests = make(chan spawnRequest)
		go func() {
			runtime.LockOSThread()
			for r := range spawnRequests {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawnRequests <- spawnRequest{cmd, done}
	return <-done
}

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

var (
	spawnOnce     sync.Once
	spawnRequests chan spawnRequest
)
