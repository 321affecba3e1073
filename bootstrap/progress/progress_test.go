package progress

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// fakeClock advances by one second each time it is read.
func fakeClock() func() time.Time {
	t := time.Unix(0, 0)
	return func() time.Time { t = t.Add(time.Second); return t }
}

func TestRunPlainLines(t *testing.T) {
	var buf bytes.Buffer
	r := &Reporter{w: &buf, now: fakeClock()}
	var ran []string
	step := func(name string, err error) Step {
		return Step{Name: name, Run: func(context.Context) error { ran = append(ran, name); return err }}
	}
	boom := errors.New("boom")
	results, err := r.Run(context.Background(), []Step{step("install flux", nil), step("publish", boom), step("wait", nil)})
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "publish: ") {
		t.Fatalf("err = %v, want the failing step named and boom wrapped", err)
	}
	if strings.Join(ran, ",") != "install flux,publish" {
		t.Errorf("ran %v: a step ran after a failure", ran)
	}
	want := "• install flux …\n✔ install flux (1s)\n• publish …\n✗ publish (1s)\n"
	if buf.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", buf.String(), want)
	}
	statuses := []string{results[0].Status, results[1].Status, results[2].Status}
	if strings.Join(statuses, ",") != "ok,failed,not started" || results[1].Error != "boom" {
		t.Errorf("results = %+v", results)
	}
	if strings.Contains(buf.String(), "\033") {
		t.Errorf("escape codes written to a non-terminal: %q", buf.String())
	}
}

func TestRunTerminalSpinner(t *testing.T) {
	var buf bytes.Buffer // written only under the reporter's lock
	r := &Reporter{w: &buf, raw: &buf, tty: true, now: time.Now, tick: time.Millisecond}
	_, err := r.Run(context.Background(), []Step{{Name: "wait", Run: func(context.Context) error {
		time.Sleep(20 * time.Millisecond)
		return nil
	}}})
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "⠋ wait") || !strings.Contains(out, "✔ wait (") {
		t.Errorf("terminal output lacks spinner or tick: %q", out)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &Reporter{w: &bytes.Buffer{}, now: time.Now}
	results, err := r.Run(ctx, []Step{
		{Name: "a", Run: func(context.Context) error { cancel(); return nil }},
		{Name: "b", Run: func(context.Context) error { t.Error("b ran after cancel"); return nil }},
	})
	if !errors.Is(err, context.Canceled) || results[1].Status != StatusNotStarted {
		t.Errorf("err %v, results %+v", err, results)
	}
}

func TestDebugOnlyWhenVerbose(t *testing.T) {
	var quiet, loud bytes.Buffer
	(&Reporter{w: &quiet}).Debugf("detail %d", 1)
	(&Reporter{w: &loud, verbose: true}).Debugf("detail %d", 1)
	if quiet.Len() != 0 || !strings.Contains(loud.String(), "detail 1") {
		t.Errorf("quiet %q, loud %q", quiet.String(), loud.String())
	}
}

// TestReporterEscapesMessages: a message or step name carrying terminal
// sequences (from a YAML key, an object name, a message from the cluster)
// reaches the stream escaped; the spinner's own sequences do not.
func TestReporterEscapesMessages(t *testing.T) {
	var buf bytes.Buffer
	r := New(&buf, true)
	r.Infof("pushed %s", "x\x1b]0;pwned\x07y")
	r.Warnf("event: %s", "a\rb\u009b31m")
	if _, err := r.Run(context.Background(), []Step{{Name: "apply \x1b[2Jname", Run: func(context.Context) error { return nil }}}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.ContainsAny(out, "\x1b\r\x07\u009b") {
		t.Errorf("control characters reached the stream: %q", out)
	}
	for _, want := range []string{`x\x1b]0;pwned\x07y`, `a\x0db\u009b31m`, `apply \x1b[2Jname`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q: %q", want, out)
		}
	}

	// On a terminal the spinner still clears its line.
	var tty bytes.Buffer
	r = &Reporter{w: EscapeWriter(&tty), raw: &tty, tty: true, now: time.Now, tick: time.Millisecond}
	if _, err := r.Run(context.Background(), []Step{{Name: "step\x1b[31m", Run: func(context.Context) error { time.Sleep(5 * time.Millisecond); return nil }}}); err != nil {
		t.Fatal(err)
	}
	if out := tty.String(); !strings.Contains(out, "\r\033[K") || strings.Contains(out, "step\x1b[31m") {
		t.Errorf("spinner output %q", out)
	}
}

func TestEscapeWriterKeepsRunesWhole(t *testing.T) {
	var buf bytes.Buffer
	w := EscapeWriter(&buf)
	s := "naïve ✔ \x1b[0m\n"
	for i := 0; i < len(s); i++ { // one byte per write
		if _, err := w.Write([]byte{s[i]}); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := buf.String(), "naïve ✔ \\x1b[0m\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := Escape("bad \xff byte\ttab"); got != `bad \xff byte`+"\ttab" {
		t.Errorf("Escape = %q", got)
	}
}
