package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
)

// Local is the tag the local overlay runs: the image imported into the
// cluster's nodes, pulled IfNotPresent.
const Local = "ghillie:local"

// Engine is the part of the Docker Engine API building and tagging need.
// client.APIClient (see NewClient) has it.
type Engine interface {
	Inspector
	ImageBuild(ctx context.Context, buildContext io.Reader, options build.ImageBuildOptions) (build.ImageBuildResponse, error)
	ImagePull(ctx context.Context, ref string, options image.PullOptions) (io.ReadCloser, error)
	ImageTag(ctx context.Context, source, target string) error
}

// Inspector is the part of the Docker Engine API that reads a local image.
type Inspector interface {
	ImageInspect(ctx context.Context, ref string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
}

// BuildOptions say what to build.
type BuildOptions struct {
	// RepoRoot is this repository (the Dockerfile and docker/).
	RepoRoot string
	// AppSrc is the Ghillie checkout.
	AppSrc string
	// Tag names the image; Local when empty.
	Tag string
	// Output receives the build's output lines as they come (-v); nil
	// discards them. The last lines are kept for the error either way.
	Output io.Writer
}

// tailLines is how many output lines a failed build or pull reports.
const tailLines = 25

// Build builds Ghillie's image from the joined context (see Context)
// through the Docker Engine API and returns its ID. A failed build returns
// Docker's error with the output lines that led to it.
func Build(ctx context.Context, eng Engine, opts BuildOptions) (string, error) {
	tag := opts.Tag
	if tag == "" {
		tag = Local
	}
	// Check the inputs before opening a build: collecting the entries
	// checks every path, and leaves only the files' contents to stream.
	entries, err := collect(ctx, opts.RepoRoot, opts.AppSrc)
	if err != nil {
		return "", err
	}
	pr, pw := io.Pipe()
	ctxErr := make(chan error, 1)
	go func() {
		err := write(ctx, pw, entries)
		pw.CloseWithError(err)
		ctxErr <- err
	}()
	resp, err := eng.ImageBuild(ctx, pr, build.ImageBuildOptions{
		Tags:        []string{tag},
		Dockerfile:  DockerfilePath,
		Remove:      true,
		ForceRemove: true,
		// The Dockerfile needs nothing BuildKit-only, and the classic
		// builder needs no session, so a plain API call builds it.
		Version: build.BuilderV1,
	})
	if err != nil {
		pr.CloseWithError(err)
		<-ctxErr
		return "", fmt.Errorf("building %s: %w", tag, err)
	}
	defer resp.Body.Close()
	res, streamErr := readStream(resp.Body, opts.Output)
	if err := <-ctxErr; err != nil {
		return "", fmt.Errorf("building %s: writing the build context: %w", tag, err)
	}
	if streamErr != nil {
		return "", fmt.Errorf("building %s: %w", tag, streamErr)
	}
	if res.id != "" {
		return res.id, nil
	}
	img, err := eng.ImageInspect(ctx, tag)
	if err != nil {
		return "", fmt.Errorf("inspecting %s after building it: %w", tag, err)
	}
	return img.ID, nil
}

// Tag makes ref (a prebuilt image) available as tag (Local when empty),
// pulling ref first when Docker does not have it, and returns the image ID.
func Tag(ctx context.Context, eng Engine, ref, tag string, output io.Writer) (string, error) {
	if tag == "" {
		tag = Local
	}
	img, err := eng.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		rc, pullErr := eng.ImagePull(ctx, ref, image.PullOptions{})
		if pullErr != nil {
			return "", fmt.Errorf("pulling %s: %w", ref, pullErr)
		}
		_, streamErr := readStream(rc, output)
		rc.Close()
		if streamErr != nil {
			return "", fmt.Errorf("pulling %s: %w", ref, streamErr)
		}
		img, err = eng.ImageInspect(ctx, ref)
	}
	if err != nil {
		return "", fmt.Errorf("inspecting %s: %w", ref, err)
	}
	if err := eng.ImageTag(ctx, ref, tag); err != nil {
		return "", fmt.Errorf("tagging %s as %s: %w", ref, tag, err)
	}
	return img.ID, nil
}

// Exists returns the ID of a local image, or an error saying how to get
// one when Docker does not have it.
func Exists(ctx context.Context, eng Inspector, ref string) (string, error) {
	img, err := eng.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		return "", fmt.Errorf("image %s is not in Docker: build it with --app-src, or pass a prebuilt one with --image", ref)
	}
	if err != nil {
		return "", fmt.Errorf("inspecting %s: %w", ref, err)
	}
	return img.ID, nil
}

// streamResult is what a build or pull stream said.
type streamResult struct {
	id string
}

// StreamError is a failure the Docker engine reported inside a build or
// pull stream, with the output lines that led to it.
type StreamError struct {
	Message string
	Tail    []string
}

func (e *StreamError) Error() string {
	if len(e.Tail) == 0 {
		return e.Message
	}
	return fmt.Sprintf("%s\n  last output:\n    %s", e.Message, strings.Join(e.Tail, "\n    "))
}

// readStream reads a JSON message stream (build or pull), copying its
// text to out, keeping the last lines, and returning the built image ID
// or the error the stream carries.
func readStream(r io.Reader, out io.Writer) (streamResult, error) {
	var res streamResult
	var tail []string
	keep := func(s string) {
		for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			if out != nil {
				fmt.Fprintln(out, line)
			}
			tail = append(tail, line)
			if len(tail) > tailLines {
				tail = tail[1:]
			}
		}
	}
	dec := json.NewDecoder(r)
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return res, nil
		} else if err != nil {
			return res, fmt.Errorf("reading the Docker engine's answer: %w", err)
		}
		switch {
		case m.Error != nil:
			return res, &StreamError{Message: m.Error.Message, Tail: tail}
		case m.Aux != nil:
			var aux struct {
				ID string `json:"ID"`
			}
			if json.Unmarshal(*m.Aux, &aux) == nil && aux.ID != "" {
				res.id = aux.ID
			}
		case m.Stream != "":
			keep(m.Stream)
		case m.Status != "" && (m.Progress == nil || m.Progress.Total == 0):
			// Progress bars repeat many times a second; their final
			// status line (Pull complete) is enough.
			if m.ID != "" {
				keep(m.ID + ": " + m.Status)
			} else {
				keep(m.Status)
			}
		}
	}
}
