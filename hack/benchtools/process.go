package benchtools

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// Result is what one finished process cost.
type Result struct {
	// Wall is the time from start to exit.
	Wall time.Duration
	// MaxRSS is the peak resident set size in bytes, where the platform
	// reports it (Linux), else 0.
	MaxRSS int64
}

// Exec runs argv in dir with stdin and returns what it cost. Its output is
// dropped but for the end, which a failure is returned with.
func Exec(ctx context.Context, dir string, stdin io.Reader, argv ...string) (Result, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdin = stdin
	var errOut, out tailBuffer
	cmd.Stderr, cmd.Stdout = &errOut, &out
	start := time.Now()
	err := cmd.Run()
	res := Result{Wall: time.Since(start)}
	if cmd.ProcessState != nil {
		res.MaxRSS = maxRSS(cmd.ProcessState)
	}
	if err != nil {
		return res, fmt.Errorf("%s: %w\n%s%s", strings.Join(argv, " "), err, out.String(), errOut.String())
	}
	return res, nil
}

// Output runs argv in dir and returns its standard output.
func Output(ctx context.Context, dir string, stdin io.Reader, argv ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdin = stdin
	var errOut strings.Builder
	cmd.Stderr = &errOut
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, tail(errOut.String(), 4000))
	}
	return out, nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// tailBuffer keeps the last 4000 bytes written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 8000 {
		t.b = append(t.b[:0], t.b[len(t.b)-4000:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return tail(string(t.b), 4000) }
