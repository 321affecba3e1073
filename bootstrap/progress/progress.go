// Package progress reports the steps of long operations on stderr: a spinner
// ending in ✔ or ✗ with the step's duration on a terminal, plain lines
// otherwise (CI logs, pipes), and nothing at all with Discard.
package progress

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// Logger is what library code reports progress through. It is small so that
// every package can take one and tests can pass Discard.
type Logger interface {
	// Infof reports a fact worth a line ("pushed oci://…").
	Infof(format string, args ...any)
	// Debugf reports detail shown only with -v.
	Debugf(format string, args ...any)
	// Warnf reports something the user should look at that did not fail.
	Warnf(format string, args ...any)
}

// Discard is a Logger that reports nothing.
var Discard Logger = discard{}

type discard struct{}

func (discard) Infof(string, ...any)  {}
func (discard) Debugf(string, ...any) {}
func (discard) Warnf(string, ...any)  {}

// Step is one named, idempotent piece of a longer operation.
type Step struct {
	Name string
	Run  func(ctx context.Context) error
}

// StepResult is how one step went, for summaries (`-o json`).
type StepResult struct {
	Name     string        `json:"name"`
	Status   string        `json:"status"` // ok, failed, not started
	Duration time.Duration `json:"durationNs"`
	Error    string        `json:"error,omitempty"`
}

// Step statuses.
const (
	StatusOK         = "ok"
	StatusFailed     = "failed"
	StatusNotStarted = "not started"
)

// Reporter writes progress to one stream.
type Reporter struct {
	w io.Writer
	// raw is w without escaping (see EscapeWriter), for the spinner's own
	// terminal sequences.
	raw     io.Writer
	tty     bool
	verbose bool
	now     func() time.Time
	tick    time.Duration

	mu      sync.Mutex
	current string // the step the spinner is showing
}

// New returns a Reporter writing to w, with a spinner when w is a terminal.
// Every message and step name is written escaped (see Escape), whether or
// not w is an EscapeWriter already.
func New(w io.Writer, verbose bool) *Reporter {
	rw := raw(w)
	tty := false
	if f, ok := rw.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &Reporter{w: EscapeWriter(w), raw: rw, tty: tty, verbose: verbose, now: time.Now, tick: 100 * time.Millisecond}
}

// Infof implements Logger.
func (r *Reporter) Infof(format string, args ...any) { r.line("  • "+format, args...) }

// Warnf implements Logger.
func (r *Reporter) Warnf(format string, args ...any) { r.line("  ⚠ "+format, args...) }

// Debugf implements Logger: shown only when verbose.
func (r *Reporter) Debugf(format string, args ...any) {
	if r.verbose {
		r.line("    "+format, args...)
	}
}

func (r *Reporter) line(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tty && r.current != "" {
		fmt.Fprint(r.raw, "\r\033[K")
	}
	fmt.Fprintf(r.w, format+"\n", args...)
}

var frames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// Run runs steps in order, reporting each as it starts and ends, and stops
// at the first failure: the steps after it are reported as not started. It
// returns every step's result and the first error, wrapped with its step.
func (r *Reporter) Run(ctx context.Context, steps []Step) ([]StepResult, error) {
	results := make([]StepResult, len(steps))
	for i, s := range steps {
		results[i] = StepResult{Name: s.Name, Status: StatusNotStarted}
	}
	for i, s := range steps {
		if err := ctx.Err(); err != nil {
			return results, fmt.Errorf("%s: %w", s.Name, err)
		}
		start := r.now()
		stop := r.begin(s.Name)
		err := s.Run(ctx)
		d := r.now().Sub(start)
		stop()
		results[i].Duration = d
		if err != nil {
			results[i].Status, results[i].Error = StatusFailed, err.Error()
			r.end("✗", s.Name, d)
			return results, fmt.Errorf("%s: %w", s.Name, err)
		}
		results[i].Status = StatusOK
		r.end("✔", s.Name, d)
	}
	return results, nil
}

// begin shows that a step started: a spinner on a terminal, a line otherwise.
func (r *Reporter) begin(name string) (stop func()) {
	r.mu.Lock()
	r.current = name
	r.mu.Unlock()
	if !r.tty {
		r.line("• %s …", name)
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(r.tick)
		defer t.Stop()
		for i := 0; ; i++ {
			r.mu.Lock()
			fmt.Fprint(r.raw, "\r\033[K")
			fmt.Fprintf(r.w, "%s %s", frames[i%len(frames)], name)
			r.mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func (r *Reporter) end(mark, name string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tty {
		fmt.Fprint(r.raw, "\r\033[K")
	}
	r.current = ""
	fmt.Fprintf(r.w, "%s %s (%s)\n", mark, name, round(d))
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(time.Millisecond)
	default:
		return d
	}
}
