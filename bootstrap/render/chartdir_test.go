package render

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leynos/gitops-local/bootstrap/manifest"
)

func TestLoadChartRefusesLinksOutOfTheChart(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(secret, []byte("root:x:0:0"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, link := range map[string]string{
		"absolute file":  secret,
		"relative file":  "../../../../../../../../../.." + secret,
		"directory":      filepath.Dir(secret),
		"does not exist": filepath.Join(filepath.Dir(secret), "nothing"),
	} {
		t.Run(name, func(t *testing.T) {
			dir := writeChart(t, map[string]string{
				"Chart.yaml":            chartYAML,
				"templates/secret.yaml": "data: {{ .Files.Get \"files/pw\" | quote }}\n",
			})
			if err := os.MkdirAll(filepath.Join(dir, "files"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(link, filepath.Join(dir, "files", "pw")); err != nil {
				t.Fatal(err)
			}
			_, err := LoadChart(dir)
			var fe *ChartFileError
			if !errors.As(err, &fe) || fe.File != "files/pw" || !errors.Is(err, ErrOutsideChart) {
				t.Fatalf("err = %v, want files/pw refused as outside the chart", err)
			}
			if strings.Contains(err.Error(), "root:x") {
				t.Errorf("the error shows the file's content: %v", err)
			}
		})
	}
}

func TestLoadChartFollowsLinksInsideTheChart(t *testing.T) {
	dir := writeChart(t, map[string]string{
		"Chart.yaml":        chartYAML,
		"shared/greeting":   "hello",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  msg: {{ .Files.Get \"files/greeting\" | quote }}\n",
	})
	if err := os.Symlink("shared", filepath.Join(dir, "files")); err != nil {
		t.Fatal(err)
	}
	ch, err := LoadChart(dir)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range ch.Files {
		found = found || f.Name == "files/greeting" && string(f.Data) == "hello"
	}
	if !found {
		t.Errorf("files/greeting not loaded through the link")
	}
}

func TestLoadChartRefusesAliasBombInValues(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x,x,x,x,x,x,x,x,x]\n")
	for i := 1; i <= 9; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		b.WriteString(strings.TrimSuffix(strings.Repeat("*a"+string(rune('0'+i-1))+",", 9), ","))
		b.WriteString("]\n")
	}
	dir := writeChart(t, map[string]string{"Chart.yaml": chartYAML, "values.yaml": b.String()})
	_, err := LoadChart(dir)
	var fe *ChartFileError
	if !errors.As(err, &fe) || fe.File != "values.yaml" || !errors.Is(err, manifest.ErrExcessiveAliasing) {
		t.Fatalf("err = %v, want values.yaml refused for excessive aliasing", err)
	}
}

// TestLoadChartIgnoresIgnoredLinks: a link the chart's .helmignore leaves
// out is never loaded, so it is no error, as with source-controller.
func TestLoadChartIgnoresIgnoredLinks(t *testing.T) {
	dir := writeChart(t, map[string]string{"Chart.yaml": chartYAML, ".helmignore": "secrets/\npw\n"})
	if err := os.MkdirAll(filepath.Join(dir, "secrets"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"pw", "secrets/key"} {
		if err := os.Symlink("/etc/passwd", filepath.Join(dir, filepath.FromSlash(l))); err != nil {
			t.Fatal(err)
		}
	}
	ch, err := LoadChart(dir)
	if err != nil {
		t.Fatalf("LoadChart: %v", err)
	}
	for _, f := range ch.Raw {
		if f.Name == "pw" || f.Name == "secrets/key" {
			t.Errorf("%s loaded", f.Name)
		}
	}
}

func TestLoadChartRefusesLinkLoops(t *testing.T) {
	dir := writeChart(t, map[string]string{"Chart.yaml": chartYAML, "files/a": "a"})
	if err := os.Symlink("..", filepath.Join(dir, "files", "up")); err != nil {
		t.Fatal(err)
	}
	_, err := LoadChart(dir)
	var fe *ChartFileError
	if !errors.As(err, &fe) || fe.File != "files/up" || !strings.Contains(err.Error(), "without end") {
		t.Fatalf("err = %v, want files/up refused as a loop", err)
	}
}
