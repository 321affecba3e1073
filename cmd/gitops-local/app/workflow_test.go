package app

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestPullRequestWorkflow reads .github/workflows/pr.yaml: it runs on pull
// requests, pins every action to a commit, validates, checks parity, and
// posts diff --base as markdown; and every gitops-local command line in it
// is one this CLI accepts.
func TestPullRequestWorkflow(t *testing.T) {
	data, err := os.ReadFile(repoRoot + "/.github/workflows/pr.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Name        string         `json:"name"`
		On          map[string]any `json:"on"`
		Permissions map[string]string
		Concurrency map[string]any
		Jobs        map[string]struct {
			RunsOn         string            `json:"runs-on"`
			TimeoutMinutes int               `json:"timeout-minutes"`
			Env            map[string]string `json:"env"`
			Steps          []struct {
				Name string            `json:"name"`
				ID   string            `json:"id"`
				Uses string            `json:"uses"`
				Run  string            `json:"run"`
				With map[string]any    `json:"with"`
				Env  map[string]string `json:"env"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	if err := yaml.UnmarshalStrict(data, &wf); err != nil {
		t.Fatalf("pr.yaml: %v", err)
	}
	if _, ok := wf.On["pull_request"]; !ok {
		t.Errorf("pr.yaml does not run on pull_request: %v", wf.On)
	}
	if wf.Permissions["pull-requests"] != "write" || wf.Permissions["contents"] != "read" {
		t.Errorf("permissions %v: the comment needs pull-requests: write, nothing more than contents: read", wf.Permissions)
	}
	if strings.Contains(string(data), "latest") {
		t.Error("pr.yaml mentions latest: pin every version")
	}
	pinned := regexp.MustCompile(`^[\w-]+/[\w-]+@[0-9a-f]{40}$`)
	var runs []string
	for name, job := range wf.Jobs {
		for _, s := range job.Steps {
			if s.Uses != "" && !pinned.MatchString(s.Uses) {
				t.Errorf("job %s: %q is not pinned to a commit", name, s.Uses)
			}
			runs = append(runs, s.Run)
		}
		if job.RunsOn == "" || strings.HasSuffix(job.RunsOn, "-latest") {
			t.Errorf("job %s runs on %q: name an image version", name, job.RunsOn)
		}
	}
	script := strings.Join(runs, "\n")
	for _, want := range []string{"bin/gitops-local validate\n", "bin/gitops-local parity\n", `bin/gitops-local diff --base "$BASE_REF" -o markdown`} {
		if !strings.Contains(script, want) {
			t.Errorf("pr.yaml does not run %q", want)
		}
	}
	if !strings.Contains(string(data), "issues.updateComment") || !strings.Contains(string(data), "issues.createComment") {
		t.Error("pr.yaml does not update its comment, or create it when there is none")
	}
	checkCommandLines(t, "pr.yaml", script)
}

// TestPreCommitHooks reads .pre-commit-hooks.yaml: a hook runs gitops-local
// validate, built from this repository, on changes to the GitOps tree.
func TestPreCommitHooks(t *testing.T) {
	data, err := os.ReadFile(repoRoot + "/.pre-commit-hooks.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var hooks []struct {
		ID            string `json:"id"`
		Name          string `json:"name"`
		Description   string `json:"description"`
		Entry         string `json:"entry"`
		Language      string `json:"language"`
		PassFilenames *bool  `json:"pass_filenames"`
		Files         string `json:"files"`
	}
	if err := yaml.UnmarshalStrict(data, &hooks); err != nil {
		t.Fatalf(".pre-commit-hooks.yaml: %v", err)
	}
	found := false
	var entries []string
	for _, h := range hooks {
		if h.ID == "" || h.Name == "" || h.Entry == "" {
			t.Errorf("hook %+v lacks id, name or entry", h)
		}
		if h.Language != "golang" || h.PassFilenames == nil || *h.PassFilenames {
			t.Errorf("hook %s: language %q, pass_filenames %v: want golang and false (gitops-local reads the whole repository)", h.ID, h.Language, h.PassFilenames)
		}
		if _, err := regexp.Compile(h.Files); err != nil || !regexp.MustCompile(h.Files).MatchString("overlays/local/ghillie.yaml") {
			t.Errorf("hook %s: files %q does not match the overlays", h.ID, h.Files)
		}
		found = found || h.Entry == "gitops-local validate"
		entries = append(entries, "bin/"+h.Entry)
	}
	if !found {
		t.Error("no hook runs gitops-local validate")
	}
	checkCommandLines(t, ".pre-commit-hooks.yaml", strings.Join(entries, "\n"))
}

// checkCommandLines runs every gitops-local command line of script with
// --help: a command or flag this CLI does not have fails.
func checkCommandLines(t *testing.T, file, script string) {
	t.Helper()
	line := regexp.MustCompile(`bin/gitops-local ([^>|\n]*)`)
	n := 0
	for _, m := range line.FindAllStringSubmatch(script, -1) {
		var args []string
		for _, f := range strings.Fields(m[1]) {
			args = append(args, strings.Trim(f, `"`))
		}
		args = append(args, "--help")
		if r := run(t, nil, args...); r.code != ExitOK {
			t.Errorf("%s: gitops-local %s: exit %d: %s", file, m[1], r.code, r.stderr)
		}
		n++
	}
	if n == 0 {
		t.Errorf("%s: no gitops-local command line found", file)
	}
}
