package app

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/leynos/gitops-local/bootstrap/versions"
)

type result struct {
	code   int
	stdout string
	stderr string
}

func run(t testing.TB, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	code := Run(context.Background(), Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, args, lookup)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

func TestVersionListsEveryPin(t *testing.T) {
	r := run(t, nil, "version")
	if r.code != ExitOK {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	for _, c := range versions.Components() {
		line := ""
		for _, l := range strings.Split(r.stdout, "\n") {
			if strings.HasPrefix(l, c.Name+" ") {
				line = l
			}
		}
		if !strings.HasSuffix(strings.TrimSpace(line), c.Version) {
			t.Errorf("version output has no line %q with %q:\n%s", c.Name, c.Version, r.stdout)
		}
	}
	if r.stderr != "" {
		t.Errorf("version wrote to stderr: %q", r.stderr)
	}
}

func TestVersionJSON(t *testing.T) {
	r := run(t, nil, "version", "-o", "json")
	if r.code != ExitOK {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	var got versionInfo
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	want := versions.Components()
	if len(got.Components) != len(want) {
		t.Fatalf("got %d components, want %d", len(got.Components), len(want))
	}
	for i := range want {
		if got.Components[i] != want[i] {
			t.Errorf("component %d = %+v, want %+v", i, got.Components[i], want[i])
		}
	}
	if got.Version == "" || got.GoVersion == "" {
		t.Errorf("version or goVersion empty: %+v", got)
	}
}

func TestOutputFromEnvironment(t *testing.T) {
	r := run(t, map[string]string{"GITOPS_LOCAL_OUTPUT": "json"}, "version")
	if r.code != ExitOK || !json.Valid([]byte(r.stdout)) {
		t.Fatalf("GITOPS_LOCAL_OUTPUT=json not honoured: exit %d, stdout %q", r.code, r.stdout)
	}
	// The command line wins over the environment.
	r = run(t, map[string]string{"GITOPS_LOCAL_OUTPUT": "json"}, "version", "-o", "text")
	if r.code != ExitOK || json.Valid([]byte(r.stdout)) {
		t.Fatalf("-o text did not override GITOPS_LOCAL_OUTPUT: exit %d, stdout %q", r.code, r.stdout)
	}
}

func TestEnvironmentSetsEveryGlobalFlag(t *testing.T) {
	var out, errOut bytes.Buffer
	env := map[string]string{
		"GITOPS_LOCAL_CLUSTER":    "dev",
		"GITOPS_LOCAL_KUBECONFIG": "/tmp/kc",
		"GITOPS_LOCAL_VERBOSE":    "true",
		"GITOPS_LOCAL_OUTPUT":     "json",
	}
	root := newRootCmd(Streams{Out: &out, ErrOut: &errOut}, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	root.SetArgs([]string{"version"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, name := range []string{"cluster", "kubeconfig", "verbose", "output"} {
		got[name] = root.PersistentFlags().Lookup(name).Value.String()
	}
	want := map[string]string{"cluster": "dev", "kubeconfig": "/tmp/kc", "verbose": "true", "output": "json"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("--%s = %q, want %q from %s", k, got[k], v, envName(k))
		}
	}
}

func TestBadInputExitsTwoWithOneMessage(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"bad output flag", nil, []string{"version", "-o", "yaml"}, `invalid --output "yaml"`},
		{"bad output env", map[string]string{"GITOPS_LOCAL_OUTPUT": "xml"}, []string{"version"}, `invalid --output "xml"`},
		{"bad verbose env", map[string]string{"GITOPS_LOCAL_VERBOSE": "maybe"}, []string{"version"}, `GITOPS_LOCAL_VERBOSE="maybe"`},
		{"empty cluster", nil, []string{"version", "--cluster", ""}, "--cluster must not be empty"},
		{"unknown flag", nil, []string{"version", "--nope"}, "unknown flag: --nope"},
		{"unknown command", nil, []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"extra argument", nil, []string{"version", "extra"}, "unknown command \"extra\""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.env, tc.args...)
			if r.code != ExitFailure {
				t.Errorf("exit %d, want %d", r.code, ExitFailure)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tc.want)
			}
			if n := strings.Count(r.stderr, "✗"); n != 1 {
				t.Errorf("error printed %d times, want once: %q", n, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout not empty on failure: %q", r.stdout)
			}
		})
	}
}

func TestExitCodes(t *testing.T) {
	cases := []struct {
		err       error
		code      int
		printsErr bool
	}{
		{Findings(errString("2 findings")), ExitFindings, true},
		{Silent(ExitFindings), ExitFindings, false},
		{errString("boom"), ExitFailure, true},
	}
	for _, tc := range cases {
		var errOut bytes.Buffer
		code := exitCode(&errOut, tc.err)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d", tc.err, code, tc.code)
		}
		if got := errOut.Len() > 0; got != tc.printsErr {
			t.Errorf("%v: printed %q, want printed=%v", tc.err, errOut.String(), tc.printsErr)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestCompletion(t *testing.T) {
	r := run(t, nil, "completion", "bash")
	if r.code != ExitOK || !strings.Contains(r.stdout, "gitops-local") {
		t.Fatalf("completion bash: exit %d, stdout %.80q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
