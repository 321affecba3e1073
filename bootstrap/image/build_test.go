package image

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

// fakeEngine stands in for the Docker engine, which cannot run here: it
// reads the build context it is sent and answers with a canned stream.
type fakeEngine struct {
	stream   string // the build or pull answer, JSON messages
	buildErr error
	opts     build.ImageBuildOptions
	context  []byte
	images   map[string]string // ref -> ID
	pulled   []string
	tagged   [][2]string
}

func (f *fakeEngine) ImageBuild(_ context.Context, r io.Reader, opts build.ImageBuildOptions) (build.ImageBuildResponse, error) {
	f.opts = opts
	if f.buildErr != nil {
		return build.ImageBuildResponse{}, f.buildErr
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return build.ImageBuildResponse{}, err
	}
	f.context = data
	return build.ImageBuildResponse{Body: io.NopCloser(strings.NewReader(f.stream))}, nil
}

func (f *fakeEngine) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	if id, ok := f.images[ref]; ok {
		return image.InspectResponse{ID: id}, nil
	}
	return image.InspectResponse{}, cerrdefs.ErrNotFound
}

func (f *fakeEngine) ImagePull(_ context.Context, ref string, _ image.PullOptions) (io.ReadCloser, error) {
	f.pulled = append(f.pulled, ref)
	if !strings.Contains(f.stream, "errorDetail") {
		f.images[ref] = "sha256:pulled"
	}
	return io.NopCloser(strings.NewReader(f.stream)), nil
}

func (f *fakeEngine) ImageTag(_ context.Context, src, dst string) error {
	f.tagged = append(f.tagged, [2]string{src, dst})
	f.images[dst] = f.images[src]
	return nil
}

const buildOK = `{"stream":"Step 1/12 : FROM python:3.14.6-slim-trixie AS build\n"}
{"stream":" ---\u003e 1a2b3c\n"}
{"aux":{"ID":"sha256:abc123"}}
{"stream":"Successfully built abc123\n"}
{"stream":"Successfully tagged ghillie:local\n"}
`

func TestBuildSendsTheJoinedContextAndStreamsOutput(t *testing.T) {
	eng := &fakeEngine{stream: buildOK, images: map[string]string{}}
	var out bytes.Buffer
	id, err := Build(context.Background(), eng, BuildOptions{RepoRoot: repoRoot, AppSrc: fakeCheckout(t), Output: &out})
	if err != nil {
		t.Fatal(err)
	}
	if id != "sha256:abc123" {
		t.Errorf("id = %q, want the ID the build reported", id)
	}
	if !slices.Equal(eng.opts.Tags, []string{Local}) || eng.opts.Dockerfile != "Dockerfile" || !eng.opts.Remove {
		t.Errorf("build options = %+v, want tag %s, Dockerfile, intermediate containers removed", eng.opts, Local)
	}
	names, _ := readContext(t, eng.context)
	for _, want := range []string{"Dockerfile", "docker/entrypoint.sh", "pyproject.toml", "ghillie/__init__.py"} {
		if !slices.Contains(names, want) {
			t.Errorf("build context lacks %s (has %v)", want, names)
		}
	}
	if !strings.Contains(out.String(), "Step 1/12 : FROM python") || !strings.Contains(out.String(), "Successfully tagged ghillie:local") {
		t.Errorf("build output not streamed:\n%s", out.String())
	}
}

func TestBuildFailureCarriesTheOutputThatLedToIt(t *testing.T) {
	stream := `{"stream":"Step 5/12 : RUN pip wheel --wheel-dir /wheels .\n"}
{"stream":"error: could not compile femtologging\n"}
{"errorDetail":{"code":1,"message":"The command '/bin/sh -c pip wheel --wheel-dir /wheels .' returned a non-zero code: 1"},"error":"The command returned a non-zero code: 1"}
`
	eng := &fakeEngine{stream: stream, images: map[string]string{}}
	_, err := Build(context.Background(), eng, BuildOptions{RepoRoot: repoRoot, AppSrc: fakeCheckout(t)})
	var se *StreamError
	if !errors.As(err, &se) {
		t.Fatalf("error = %v, want a StreamError", err)
	}
	for _, want := range []string{"building ghillie:local", "returned a non-zero code: 1", "could not compile femtologging", "Step 5/12"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestBuildRefusesANonGhillieSourceBeforeCallingDocker(t *testing.T) {
	eng := &fakeEngine{stream: buildOK, images: map[string]string{}}
	_, err := Build(context.Background(), eng, BuildOptions{RepoRoot: repoRoot, AppSrc: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "pyproject.toml") {
		t.Fatalf("error = %v, want the missing pyproject.toml named", err)
	}
	if eng.context != nil || eng.opts.Tags != nil {
		t.Error("a build was started for a directory that is not a Ghillie checkout")
	}
}

func TestBuildEngineError(t *testing.T) {
	eng := &fakeEngine{buildErr: errors.New("Cannot connect to the Docker daemon"), images: map[string]string{}}
	_, err := Build(context.Background(), eng, BuildOptions{RepoRoot: repoRoot, AppSrc: fakeCheckout(t)})
	if err == nil || !strings.Contains(err.Error(), "Cannot connect to the Docker daemon") {
		t.Fatalf("error = %v", err)
	}
}

func TestTagPrebuiltImage(t *testing.T) {
	pull := `{"status":"Pulling from leynos/ghillie","id":"sha-1"}
{"status":"Downloading","progressDetail":{"current":10,"total":100},"id":"aa"}
{"status":"Pull complete","progressDetail":{},"id":"aa"}
`
	t.Run("present", func(t *testing.T) {
		eng := &fakeEngine{images: map[string]string{"ghcr.io/leynos/ghillie:sha-1": "sha256:have"}}
		id, err := Tag(context.Background(), eng, "ghcr.io/leynos/ghillie:sha-1", "", nil)
		if err != nil || id != "sha256:have" {
			t.Fatalf("Tag = %q, %v", id, err)
		}
		if len(eng.pulled) != 0 {
			t.Error("pulled an image Docker already has")
		}
		if len(eng.tagged) != 1 || eng.tagged[0] != [2]string{"ghcr.io/leynos/ghillie:sha-1", Local} {
			t.Errorf("tagged %v, want the image tagged %s", eng.tagged, Local)
		}
	})
	t.Run("pulled first", func(t *testing.T) {
		eng := &fakeEngine{stream: pull, images: map[string]string{}}
		var out bytes.Buffer
		id, err := Tag(context.Background(), eng, "ghcr.io/leynos/ghillie:sha-1", "", &out)
		if err != nil || id != "sha256:pulled" {
			t.Fatalf("Tag = %q, %v", id, err)
		}
		if strings.Contains(out.String(), "Downloading") || !strings.Contains(out.String(), "aa: Pull complete") {
			t.Errorf("pull output = %q, want final statuses without progress bars", out.String())
		}
	})
	t.Run("pull fails", func(t *testing.T) {
		eng := &fakeEngine{stream: `{"errorDetail":{"message":"manifest unknown"}}`, images: map[string]string{}}
		_, err := Tag(context.Background(), eng, "ghcr.io/leynos/ghillie:nope", "", nil)
		if err == nil || !strings.Contains(err.Error(), "pulling ghcr.io/leynos/ghillie:nope: manifest unknown") {
			t.Fatalf("error = %v", err)
		}
		if len(eng.tagged) != 0 {
			t.Error("tagged an image that could not be pulled")
		}
	})
}

func TestExists(t *testing.T) {
	eng := &fakeEngine{images: map[string]string{Local: "sha256:x"}}
	if id, err := Exists(context.Background(), eng, Local); err != nil || id != "sha256:x" {
		t.Errorf("Exists = %q, %v", id, err)
	}
	delete(eng.images, Local)
	if _, err := Exists(context.Background(), eng, Local); err == nil || !strings.Contains(err.Error(), "--app-src") {
		t.Errorf("error = %v, want advice", err)
	}
}
