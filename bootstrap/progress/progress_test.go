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
	r := &Reporter{w: &buf, tty: true, now: time.Now, tick: time.Millisecond}
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
