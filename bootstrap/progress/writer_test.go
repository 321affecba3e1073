package progress

import (
	"fmt"
	"slices"
	"testing"
)

type recorder struct{ lines []string }

func (r *recorder) Infof(string, ...any) {}
func (r *recorder) Warnf(string, ...any) {}
func (r *recorder) Debugf(format string, args ...any) {
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
}

func TestDetailWriterReportsWholeLines(t *testing.T) {
	rec := &recorder{}
	w := DetailWriter(rec, "k3d: ")
	for _, chunk := range []string{"Step 1/2 : FR", "OM python\n\nStep 2", "/2 : RUN true\n", "partial"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"k3d: Step 1/2 : FROM python", "k3d: Step 2/2 : RUN true"}
	if !slices.Equal(rec.lines, want) {
		t.Errorf("lines = %q, want %q (a partial line waits for its end)", rec.lines, want)
	}
}
