// Package app is the gitops-local command line: cobra commands that parse
// flags and hand the work to the bootstrap library. Only Main exits.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/leynos/gitops-local/bootstrap/progress"
)

// Exit codes, documented in the README and in `gitops-local --help`.
const (
	// ExitOK means the command did what was asked and found nothing wrong.
	ExitOK = 0
	// ExitFindings means the command ran and found problems or differences
	// (validate findings, diff differences).
	ExitFindings = 1
	// ExitFailure means the command could not do its job (bad flags, bad
	// input, an unreachable cluster, ...).
	ExitFailure = 2
	// ExitInterrupted means the command was stopped by Ctrl-C (SIGINT) or
	// SIGTERM before it finished: 128 + SIGINT, as shells report it.
	ExitInterrupted = 130
)

// Streams are the standard streams a command reads and writes: data goes to
// Out, progress and errors to ErrOut.
type Streams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// ExitError carries an exit code with the error that caused it.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Findings wraps err so that the command exits with ExitFindings.
func Findings(err error) error { return &ExitError{Code: ExitFindings, Err: err} }

// Main runs the command line with the process's arguments, environment and
// streams, and returns the exit code. It is the only place the outcome of a
// command is turned into an exit status.
//
// The first Ctrl-C (SIGINT) or SIGTERM cancels the command's context: the
// command stops, removes what it created in the temporary directory and
// exits with ExitInterrupted. A second one exits at once.
func Main() int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		<-sigs
		cancel()
		fmt.Fprintln(os.Stderr, "interrupted: stopping (interrupt again to quit at once)")
		<-sigs
		os.Exit(ExitInterrupted)
	}()
	streams := Streams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	// Libraries' own log lines (kustomize's warnings, Helm's slog messages
	// through the default logger) quote repository paths too.
	log.SetOutput(progress.EscapeWriter(os.Stderr))
	return Run(ctx, streams, os.Args[1:], os.LookupEnv)
}

// Run executes one command line and returns its exit code, printing any error
// once on ErrOut. lookupEnv resolves GITOPS_LOCAL_* settings.
//
// Everything written to Out and ErrOut has its control characters escaped
// (progress.EscapeWriter): object names, YAML keys and messages come from
// the repository and the cluster, and reach a terminal.
func Run(ctx context.Context, streams Streams, args []string, lookupEnv func(string) (string, bool)) int {
	streams.Out = progress.EscapeWriter(streams.Out)
	streams.ErrOut = progress.EscapeWriter(streams.ErrOut)
	root := newRootCmd(streams, lookupEnv)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil && ctx.Err() != nil {
		// Whatever failed after the interruption failed because of it:
		// the command's own error would blame the repository or the
		// cluster.
		fmt.Fprintln(streams.ErrOut, "✗ interrupted")
		return ExitInterrupted
	}
	return exitCode(streams.ErrOut, err)
}

// exitCode prints err once on w, unless the command already reported it, and
// returns the exit code it stands for.
func exitCode(w io.Writer, err error) int {
	if err == nil {
		return ExitOK
	}
	if silent := (*silentError)(nil); !errors.As(err, &silent) {
		fmt.Fprintf(w, "✗ %v\n", err)
	}
	var exitErr *ExitError
	if errors.As(err, &exitErr) {
		return exitErr.Code
	}
	return ExitFailure
}

// silentError is an error whose details the command has already reported
// (for example every validation finding); Run prints nothing more for it.
type silentError struct{ code int }

func (e *silentError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Silent returns an error that exits with code without printing anything:
// the command has already said why.
func Silent(code int) error {
	return &ExitError{Code: code, Err: &silentError{code: code}}
}

// writeJSON writes v to w as indented JSON, the -o json output; what names
// the output in the error.
func writeJSON(w io.Writer, what string, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing %s: %w", what, err)
	}
	return nil
}
