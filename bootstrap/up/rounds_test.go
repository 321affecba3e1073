package up

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leynos/gitops-local/bootstrap/progress"
	"github.com/leynos/gitops-local/bootstrap/testutil"
)

// TestRoundsValidateTheTreeAsItIsNow runs the validation of three watch
// rounds sharing one memory (and so one render cache) over a tree edited
// between them: each round must judge the files as they are, not as an
// earlier round saw them.
func TestRoundsValidateTheTreeAsItIsNow(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: renders every environment")
	}
	repo := testutil.CopyRepo(t, "../..")
	mem := NewValidated()
	round := func() error {
		r := &Runner{opts: Options{
			RepoRoot: repo, Environment: "local", Validated: mem, Log: progress.Discard,
			Charts: testutil.ChartCache(t, "../..", false),
		}, summary: &Summary{}}
		return r.validate(context.Background())
	}
	if err := round(); err != nil {
		t.Fatalf("first round: %v", err)
	}

	file := filepath.Join(repo, "overlays/local/ghillie.yaml")
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	const at = "              pullPolicy: IfNotPresent"
	if !strings.Contains(string(good), at) {
		t.Fatalf("overlays/local/ghillie.yaml has no %q", at)
	}
	bad := strings.Replace(string(good), at, at+"\n              tagg: oops", 1)
	if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	var invalid *InvalidError
	if err := round(); !errors.As(err, &invalid) || !strings.Contains(err.Error(), "tagg") {
		t.Fatalf("second round over a broken overlay: %v, want it refused naming tagg", err)
	}

	if err := os.WriteFile(file, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := round(); err != nil {
		t.Fatalf("third round over the fixed overlay: %v", err)
	}
}
