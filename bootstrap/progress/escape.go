package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"
)

// Escape returns s with every control character written as an escape
// (\x1b, \r, \u009b), except newline and tab, and every byte that is not
// UTF-8 as \xNN: text from the repository or the cluster (object names,
// YAML keys, messages) cannot move the cursor, recolour or retitle the
// terminal, or hide what precedes it.
func Escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x80 && r <= 0x9f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string) bool {
	high := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 && c != '\n' && c != '\t', c == 0x7f:
			return true
		case c >= 0x80:
			high = true
		}
	}
	return high && (!utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r >= 0x80 && r <= 0x9f }))
}

// EscapeWriter returns a writer that passes what is written to w through
// Escape: the one place every line the commands print (data on stdout,
// progress and errors on stderr) has its control characters escaped. A
// rune split across two writes is kept until it is whole.
func EscapeWriter(w io.Writer) io.Writer {
	if _, ok := w.(*escapeWriter); ok {
		return w
	}
	return &escapeWriter{w: w}
}

type escapeWriter struct {
	w    io.Writer
	mu   sync.Mutex
	tail []byte // an incomplete UTF-8 sequence from the last write
}

func (e *escapeWriter) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	buf := append(e.tail, p...)
	e.tail = nil
	// Keep an incomplete rune at the end for the next write.
	if n := incompleteSuffix(buf); n > 0 {
		e.tail = append([]byte(nil), buf[len(buf)-n:]...)
		buf = buf[:len(buf)-n]
	}
	if _, err := io.WriteString(e.w, Escape(string(buf))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Unwrap returns the writer escaped output goes to, for the Reporter's
// own terminal sequences (its spinner).
func (e *escapeWriter) Unwrap() io.Writer { return e.w }

// incompleteSuffix is the length of the start of a UTF-8 sequence that
// ends b, 0 when b ends on a whole rune (or on bytes that are not UTF-8).
func incompleteSuffix(b []byte) int {
	for n := 1; n <= 3 && n <= len(b); n++ {
		c := b[len(b)-n]
		if c < 0x80 {
			return 0
		}
		if c >= 0xC0 { // a leading byte: is its sequence whole?
			want := 2
			switch {
			case c >= 0xF0:
				want = 4
			case c >= 0xE0:
				want = 3
			}
			if want > n {
				return n
			}
			return 0
		}
	}
	return 0
}

// raw returns the writer under an EscapeWriter, or w itself.
func raw(w io.Writer) io.Writer {
	if u, ok := w.(interface{ Unwrap() io.Writer }); ok {
		return u.Unwrap()
	}
	return w
}
