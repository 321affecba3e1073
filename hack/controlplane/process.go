package controlplane

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Process is a child process of the test control plane. It runs in its own
// process group so that stopping it also stops anything it started and so
// that a terminal's Ctrl-C reaches only the parent, which stops it in turn;
// on Linux it is also killed when the process that started it dies.
type Process struct {
	// Name names the component in errors ("kube-apiserver").
	Name string
	// LogPath is the file receiving its standard output and error.
	LogPath string

	// path, args and env start it again (Env.StartComponent).
	path      string
	args, env []string
	cmd       *exec.Cmd
	done      chan struct{}
	err       error // set before done is closed
}

// StartProcess starts path with args, logging to logPath. env is added to the
// parent's environment.
func StartProcess(name, path string, args, env []string, logPath string) (*Process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	defer logf.Close()
	cmd := exec.Command(path, args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Process{Name: name, LogPath: logPath, path: path, args: args, env: env, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// PID is the process id, which is also its process group id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Done is closed when the process has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Stop asks the process group to terminate, kills it after grace, and waits
// for the process to be reaped.
func (p *Process) Stop(grace time.Duration) error {
	pgid := p.PID()
	if exited, _ := p.Exited(); !exited {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
		}
	}
	// Kill what is left of the group, the leader included, even if the
	// leader already exited.
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing %s (process group %d): %w", p.Name, pgid, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s (pid %d) still running 10s after SIGKILL", p.Name, pgid)
	}
}

// Tail returns the last n lines of the process's log.
func (p *Process) Tail(n int) string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return lastLines(string(b), n)
}

// failure is a start-up error naming the component, with its last log lines.
func (p *Process) failure(format string, args ...any) error {
	return fmt.Errorf("%s: %s\n--- last 20 lines of %s ---\n%s", p.Name, fmt.Sprintf(format, args...), p.LogPath, p.Tail(20))
}

// waitReady polls check until it succeeds, failing early when the process
// exits, and with the component's last log lines when ctx ends first.
func (p *Process) waitReady(ctx context.Context, what string, check func(context.Context) error) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = check(cctx)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-p.done:
			return p.failure("exited before %s: %v", what, p.err)
		case <-ctx.Done():
			return p.failure("not %s: %v (last check: %v)", what, context.Cause(ctx), last)
		case <-tick.C:
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
