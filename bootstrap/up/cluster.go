package up

import (
	"context"
	"errors"
	"io"

	"github.com/leynos/gitops-local/bootstrap/cluster"
	"github.com/leynos/gitops-local/bootstrap/image"
	"github.com/leynos/gitops-local/bootstrap/progress"
)

// Preflighter is a provider that can check, before anything is created,
// that Ensure can work (k3d: Docker answers, cgroup v2, ports free).
type Preflighter interface {
	Preflight(ctx context.Context) error
}

// ImageImporter is a provider whose nodes run images from the local Docker
// engine (k3d): up builds the app image in that engine and imports it
// into every node.
type ImageImporter interface {
	// ImageEngine is the Docker engine the cluster runs in.
	ImageEngine() image.Engine
	// ImportImage loads a local image into every node and checks that
	// each holds it by name and ID.
	ImportImage(ctx context.Context, ref string) error
}

// AppImage says where the app image comes from, for a provider that
// imports images: built from a Ghillie checkout, a prebuilt image tagged
// as image.Local, or the image.Local Docker already has.
type AppImage struct {
	// AppSrc is a Ghillie checkout to build.
	AppSrc string
	// Prebuilt is an image to tag as image.Local.
	Prebuilt string
	// Reuse takes the image.Local Docker already has.
	Reuse bool
	// Output receives the build's or pull's output; nil discards it.
	Output io.Writer
}

// check refuses what does not fit together: exactly one image source for
// a provider that imports images, none for one that does not.
func (a AppImage) check(p cluster.Provider) error {
	n := 0
	for _, set := range []bool{a.AppSrc != "", a.Prebuilt != "", a.Reuse} {
		if set {
			n++
		}
	}
	_, imports := p.(ImageImporter)
	switch {
	case n > 1:
		return errors.New("more than one app image source: build from a checkout, tag a prebuilt image, or reuse the local one")
	case imports && n == 0:
		return ErrNoAppImage
	case !imports && n > 0:
		return ErrImageNotImported
	}
	return nil
}

// ErrNoAppImage: the provider runs the local app image and none was said.
var ErrNoAppImage = errors.New("no app image for the cluster's nodes")

// ErrImageNotImported: the provider cannot load local images.
var ErrImageNotImported = errors.New("this cluster's nodes do not run local images")

// ClusterRun gets the cluster ready for the Flux steps: it checks the
// provider's prerequisites, makes the app image, creates or reuses the
// cluster and imports the image. Its fields are set by its steps.
type ClusterRun struct {
	provider cluster.Provider
	image    AppImage
	repoRoot string
	log      progress.Logger

	// Cluster is the cluster Ensure returned.
	Cluster *cluster.Cluster
	// ImageID is the ID of the app image made and imported, "" when the
	// provider imports none.
	ImageID string
}

// NewClusterRun checks that img fits the provider p and returns the run.
func NewClusterRun(p cluster.Provider, img AppImage, repoRoot string, log progress.Logger) (*ClusterRun, error) {
	if err := img.check(p); err != nil {
		return nil, err
	}
	if log == nil {
		log = progress.Discard
	}
	return &ClusterRun{provider: p, image: img, repoRoot: repoRoot, log: log}, nil
}

// Steps are the run's steps, in order.
func (r *ClusterRun) Steps() []progress.Step {
	var steps []progress.Step
	if pf, ok := r.provider.(Preflighter); ok {
		steps = append(steps, progress.Step{Name: "Check the prerequisites before creating anything", Run: pf.Preflight})
	}
	imp, imports := r.provider.(ImageImporter)
	if imports {
		steps = append(steps, r.imageStep(imp.ImageEngine()))
	}
	steps = append(steps, progress.Step{Name: "Create or reuse the cluster", Run: r.ensure})
	if imports {
		steps = append(steps, progress.Step{Name: "Import " + image.Local + " into the cluster's nodes", Run: func(ctx context.Context) error {
			return imp.ImportImage(ctx, image.Local)
		}})
	}
	return steps
}

// ImageSteps make the app image again and import it into the running
// cluster's nodes, keeping its ID for the next sync's cluster variables:
// what watch runs when the app's source changes.
func (r *ClusterRun) ImageSteps() []progress.Step {
	imp, ok := r.provider.(ImageImporter)
	if !ok {
		return nil
	}
	return []progress.Step{
		r.imageStep(imp.ImageEngine()),
		{Name: "Import " + image.Local + " into the cluster's nodes", Run: func(ctx context.Context) error {
			return imp.ImportImage(ctx, image.Local)
		}},
	}
}

func (r *ClusterRun) ensure(ctx context.Context) error {
	c, err := r.provider.Ensure(ctx)
	if err != nil {
		return err
	}
	r.Cluster = c
	if c.Kubeconfig != "" {
		r.log.Infof("kubeconfig %s (export KUBECONFIG=%s)", c.Kubeconfig, c.Kubeconfig)
	}
	if c.MergedInto != "" {
		r.log.Infof("context k3d-%s added to %s (kubectl config use-context k3d-%s)", c.Name, c.MergedInto, c.Name)
	}
	return nil
}

// imageStep makes image.Local in the engine eng and keeps its ID.
func (r *ClusterRun) imageStep(eng image.Engine) progress.Step {
	switch {
	case r.image.Reuse:
		return progress.Step{Name: "Find " + image.Local + " in Docker", Run: func(ctx context.Context) error {
			id, err := image.Exists(ctx, eng, image.Local)
			r.ImageID = id
			return err
		}}
	case r.image.Prebuilt != "":
		return progress.Step{Name: "Tag " + r.image.Prebuilt + " as " + image.Local, Run: func(ctx context.Context) error {
			id, err := image.Tag(ctx, eng, r.image.Prebuilt, image.Local, r.image.Output)
			r.ImageID = id
			return err
		}}
	}
	return progress.Step{Name: "Build " + image.Local + " from " + r.image.AppSrc, Run: func(ctx context.Context) error {
		id, err := image.Build(ctx, eng, image.BuildOptions{RepoRoot: r.repoRoot, AppSrc: r.image.AppSrc, Tag: image.Local, Output: r.image.Output})
		if err != nil {
			return err
		}
		r.ImageID = id
		return nil
	}}
}

// Up is the whole of `up`: the cluster run, then, with the options
// options returns for its cluster, the Flux steps, the image's ID written
// to the cluster variables so that a rebuilt image rolls out through Flux.
func Up(ctx context.Context, rep *progress.Reporter, run *ClusterRun, options func(*cluster.Cluster) (Options, error)) (*Summary, error) {
	done, err := rep.Run(ctx, run.Steps())
	if err != nil {
		return &Summary{Steps: done}, err
	}
	opts, err := options(run.Cluster)
	if err != nil {
		return &Summary{Steps: done}, err
	}
	opts.ImageID = run.ImageID
	sum, err := Run(ctx, rep, opts)
	if sum == nil {
		sum = &Summary{}
	}
	sum.Steps = append(done, sum.Steps...)
	return sum, err
}
