package up

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/build"
	dockerimage "github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/leynos/gitops-local/bootstrap/cluster"
	"github.com/leynos/gitops-local/bootstrap/image"
)

// localDocker holds images by reference, as Docker's image inspect finds
// them.
type localDocker struct{ images map[string]string }

func (d *localDocker) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (dockerimage.InspectResponse, error) {
	id, ok := d.images[ref]
	if !ok {
		return dockerimage.InspectResponse{}, errNotFound{}
	}
	return dockerimage.InspectResponse{ID: id}, nil
}

func (d *localDocker) ImageBuild(context.Context, io.Reader, build.ImageBuildOptions) (build.ImageBuildResponse, error) {
	return build.ImageBuildResponse{}, errors.New("no build here")
}

func (d *localDocker) ImagePull(context.Context, string, dockerimage.PullOptions) (io.ReadCloser, error) {
	return nil, errors.New("no pull here")
}

func (d *localDocker) ImageTag(_ context.Context, src, dst string) error {
	d.images[dst] = d.images[src]
	return nil
}

// errNotFound is Docker's "no such image" (errdefs NotFound).
type errNotFound struct{}

func (errNotFound) Error() string  { return "no such image" }
func (errNotFound) NotFound() bool { return true }

// importingProvider is a provider whose nodes run local images (as k3d's).
type importingProvider struct {
	docker   *localDocker
	calls    []string
	imported string
}

func (p *importingProvider) Preflight(context.Context) error {
	p.calls = append(p.calls, "preflight")
	return nil
}

func (p *importingProvider) Ensure(context.Context) (*cluster.Cluster, error) {
	p.calls = append(p.calls, "ensure")
	return &cluster.Cluster{Name: "dev", Kubeconfig: "/state/dev.kubeconfig"}, nil
}

func (p *importingProvider) Get(ctx context.Context) (*cluster.Cluster, error) { return p.Ensure(ctx) }
func (p *importingProvider) Delete(context.Context) (cluster.Removed, error) {
	return cluster.Removed{}, nil
}
func (p *importingProvider) ImageEngine() image.Engine { return p.docker }
func (p *importingProvider) ImportImage(_ context.Context, ref string) error {
	p.calls = append(p.calls, "import "+ref)
	p.imported = p.docker.images[ref]
	return nil
}

// TestClusterRunTagsImportsAndKeepsTheImageID: the steps run in order on
// one Docker engine (the provider's), and the ID of the image imported is
// kept for the cluster variables.
func TestClusterRunTagsImportsAndKeepsTheImageID(t *testing.T) {
	const id = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	p := &importingProvider{docker: &localDocker{images: map[string]string{"ghcr.io/leynos/ghillie:sha-1": id}}}
	run, err := NewClusterRun(p, AppImage{Prebuilt: "ghcr.io/leynos/ghillie:sha-1"}, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range run.Steps() {
		if err := s.Run(context.Background()); err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
	}
	if got := strings.Join(p.calls, ", "); got != "preflight, ensure, import ghillie:local" {
		t.Errorf("calls = %s", got)
	}
	if run.ImageID != id || p.imported != id || run.Cluster == nil || run.Cluster.Name != "dev" {
		t.Errorf("image ID %q, imported %q, cluster %+v", run.ImageID, p.imported, run.Cluster)
	}
}

// TestClusterRunRefusesWhatDoesNotFit: an image for a cluster that does
// not run local images, none for one that does, two at once.
func TestClusterRunRefusesWhatDoesNotFit(t *testing.T) {
	existing := &cluster.Existing{Kubeconfig: "/kc", Registry: "127.0.0.1:5000"}
	importing := &importingProvider{docker: &localDocker{}}
	if _, err := NewClusterRun(existing, AppImage{Reuse: true}, "", nil); !errors.Is(err, ErrImageNotImported) {
		t.Errorf("image for an existing cluster: %v", err)
	}
	if _, err := NewClusterRun(importing, AppImage{}, "", nil); !errors.Is(err, ErrNoAppImage) {
		t.Errorf("no image for k3d: %v", err)
	}
	if _, err := NewClusterRun(importing, AppImage{Reuse: true, AppSrc: "."}, "", nil); err == nil {
		t.Error("two image sources accepted")
	}
	if _, err := NewClusterRun(existing, AppImage{}, "", nil); err != nil {
		t.Errorf("existing cluster without an image: %v", err)
	}
}

// TestImageStepsRemakeAndImport: watch's steps after a change to the app
// make the image and import it, and the new ID is kept.
func TestImageStepsRemakeAndImport(t *testing.T) {
	const newID = "sha256:4444444444444444444444444444444444444444444444444444444444444444"
	p := &importingProvider{docker: &localDocker{images: map[string]string{image.Local: newID}}}
	run, err := NewClusterRun(p, AppImage{Reuse: true}, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range run.ImageSteps() {
		if err := s.Run(context.Background()); err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
	}
	if run.ImageID != newID || p.imported != newID || strings.Join(p.calls, ", ") != "import ghillie:local" {
		t.Errorf("image ID %q, imported %q, calls %v", run.ImageID, p.imported, p.calls)
	}
}
