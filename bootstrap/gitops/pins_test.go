package gitops

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/bootstrap/versions"
)

// doc is the part of a Flux source or HelmRelease the pin check reads.
type doc struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		Type  string `json:"type"`
		URL   string `json:"url"`
		Chart struct {
			Spec struct {
				Chart     string `json:"chart"`
				Version   string `json:"version"`
				SourceRef struct {
					Kind      string `json:"kind"`
					Name      string `json:"name"`
					Namespace string `json:"namespace"`
				} `json:"sourceRef"`
			} `json:"spec"`
		} `json:"chart"`
		Install struct {
			CRDs string `json:"crds"`
		} `json:"install"`
		Upgrade struct {
			CRDs string `json:"crds"`
		} `json:"upgrade"`
	} `json:"spec"`
}

func readDocs(t *testing.T, file string) []doc {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []doc
	for _, part := range strings.Split(string(data), "\n---") {
		var d doc
		if err := yaml.Unmarshal([]byte(part), &d); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if d.Kind != "" {
			out = append(out, d)
		}
	}
	return out
}

// TestPlatformPinsMatchVersions checks every HelmRelease and HelmRepository
// under gitops/platform against versions.Charts, the one place pins live,
// and that every pinned chart is deployed.
func TestPlatformPinsMatchVersions(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot, "gitops", "platform", "*", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	repos := map[string]doc{}
	var releases []doc
	for _, f := range files {
		for _, d := range readDocs(t, f) {
			switch d.Kind {
			case "HelmRepository":
				if d.APIVersion != "source.toolkit.fluxcd.io/v1" {
					t.Errorf("%s: HelmRepository %s uses %s, want source.toolkit.fluxcd.io/v1", f, d.Metadata.Name, d.APIVersion)
				}
				if d.Metadata.Namespace != FluxNamespace {
					t.Errorf("%s: HelmRepository %s is in %q, want %s", f, d.Metadata.Name, d.Metadata.Namespace, FluxNamespace)
				}
				repos[d.Metadata.Namespace+"/"+d.Metadata.Name] = d
			case "HelmRelease":
				if d.APIVersion != "helm.toolkit.fluxcd.io/v2" {
					t.Errorf("%s: HelmRelease %s uses %s, want helm.toolkit.fluxcd.io/v2", f, d.Metadata.Name, d.APIVersion)
				}
				releases = append(releases, d)
			}
		}
	}
	seen := map[string]bool{}
	for _, hr := range releases {
		cs := hr.Spec.Chart.Spec
		pin, ok := versions.ChartByName(cs.Chart)
		if !ok {
			t.Errorf("HelmRelease %s/%s installs chart %q, which versions.Charts does not pin", hr.Metadata.Namespace, hr.Metadata.Name, cs.Chart)
			continue
		}
		seen[pin.Name] = true
		if cs.Version != pin.Version {
			t.Errorf("HelmRelease %s/%s: chart %s version %q, versions.Charts pins %q", hr.Metadata.Namespace, hr.Metadata.Name, cs.Chart, cs.Version, pin.Version)
		}
		if hr.Metadata.Namespace != pin.Namespace {
			t.Errorf("HelmRelease %s/%s: namespace %q, versions.Charts says %q", hr.Metadata.Namespace, hr.Metadata.Name, hr.Metadata.Namespace, pin.Namespace)
		}
		if hr.Spec.Install.CRDs != "CreateReplace" || hr.Spec.Upgrade.CRDs != "CreateReplace" {
			t.Errorf("HelmRelease %s/%s: crds install %q upgrade %q, want CreateReplace", hr.Metadata.Namespace, hr.Metadata.Name, hr.Spec.Install.CRDs, hr.Spec.Upgrade.CRDs)
		}
		ns := cs.SourceRef.Namespace
		if ns == "" {
			ns = hr.Metadata.Namespace
		}
		repo, ok := repos[ns+"/"+cs.SourceRef.Name]
		if cs.SourceRef.Kind != "HelmRepository" || !ok {
			t.Errorf("HelmRelease %s/%s: source %s %s/%s is not a HelmRepository under gitops/platform", hr.Metadata.Namespace, hr.Metadata.Name, cs.SourceRef.Kind, ns, cs.SourceRef.Name)
			continue
		}
		if strings.TrimSuffix(repo.Spec.URL, "/") != strings.TrimSuffix(pin.Repository, "/") {
			t.Errorf("HelmRepository %s: url %q, versions.Charts says %q for %s", repo.Metadata.Name, repo.Spec.URL, pin.Repository, pin.Name)
		}
		wantOCI := strings.HasPrefix(pin.Repository, "oci://")
		if (repo.Spec.Type == "oci") != wantOCI {
			t.Errorf("HelmRepository %s: type %q, want oci=%v", repo.Metadata.Name, repo.Spec.Type, wantOCI)
		}
	}
	for _, pin := range versions.Charts {
		if !seen[pin.Name] {
			t.Errorf("versions.Charts pins %s, but no HelmRelease under gitops/platform installs it", pin.Name)
		}
	}
}

// TestGhillieChartTag keeps the chart OCIRepository's tag equal to the
// version in charts/ghillie/Chart.yaml, which is the tag it is pushed with.
func TestGhillieChartTag(t *testing.T) {
	var meta struct {
		Version string `json:"version"`
	}
	data, err := os.ReadFile(filepath.Join(repoRoot, "charts", "ghillie", "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &meta); err != nil {
		t.Fatal(err)
	}
	var src struct {
		Spec struct {
			Ref struct {
				Tag string `json:"tag"`
			} `json:"ref"`
		} `json:"spec"`
	}
	data, err = os.ReadFile(filepath.Join(repoRoot, "gitops", "apps", "ghillie", "app", "ocirepository.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &src); err != nil {
		t.Fatal(err)
	}
	if src.Spec.Ref.Tag != meta.Version {
		t.Errorf("OCIRepository ghillie-chart tag %q, charts/ghillie/Chart.yaml version %q", src.Spec.Ref.Tag, meta.Version)
	}
}
