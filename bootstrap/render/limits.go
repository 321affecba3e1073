package render

import (
	"errors"
	"fmt"
	"time"
)

// Default bounds of one render.
const (
	// DefaultTimeout bounds the time a chart's templates may take: large
	// real charts render in well under a second.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxManifestBytes bounds the manifests a render may produce;
	// the largest real charts (CRD bundles) produce a few MiB.
	DefaultMaxManifestBytes = 64 << 20
	// DefaultMaxMemoryBytes bounds the memory of the process that renders
	// a chart: room for DefaultMaxManifestBytes of output, the buffers Helm
	// grows while writing it and the decoded objects.
	DefaultMaxMemoryBytes = 1 << 30
)

// Limits bound one render; a zero field takes its default.
type Limits struct {
	// Timeout bounds the time the templates take to render.
	Timeout time.Duration
	// MaxManifestBytes bounds the size of the rendered manifests (the
	// templates' output, hooks and NOTES.txt included).
	MaxManifestBytes int64
	// MaxMemoryBytes bounds the memory of the process rendering the chart.
	MaxMemoryBytes int64
}

// withDefaults returns l with its zero fields set to their defaults.
func (l Limits) withDefaults() Limits {
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	if l.MaxManifestBytes <= 0 {
		l.MaxManifestBytes = DefaultMaxManifestBytes
	}
	if l.MaxMemoryBytes <= 0 {
		l.MaxMemoryBytes = DefaultMaxMemoryBytes
	}
	return l
}

// ErrLimit is wrapped by Render's error when a render exceeds one of its
// Limits.
var ErrLimit = errors.New("render limit exceeded")

// limitError is a render stopped by one of its Limits.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }
func (e *limitError) Unwrap() error { return ErrLimit }

func timeoutError(l Limits) error {
	return &limitError{fmt.Sprintf("the templates did not finish rendering within %s: a template loops or does far too much work (the bound is set by --render-timeout)", l.Timeout)}
}

func memoryError(l Limits) error {
	return &limitError{fmt.Sprintf("rendering used more than %s of memory and was stopped: a template writes far more than the %s bound on manifests", formatBytes(l.MaxMemoryBytes), formatBytes(l.MaxManifestBytes))}
}

func sizeError(l Limits, n int64) error {
	return &limitError{fmt.Sprintf("the templates rendered %s of manifests, more than the %s bound", formatBytes(n), formatBytes(l.MaxManifestBytes))}
}

// formatBytes formats n in MiB, or in bytes below one MiB.
func formatBytes(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d bytes", n)
	}
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
