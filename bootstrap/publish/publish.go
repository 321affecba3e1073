// Package publish pushes this repository's GitOps tree to an OCI registry as
// a Flux artifact, the way `flux push artifact` does, so that the cluster's
// OCIRepository serves exactly what is on disk.
package publish

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fluxcd/pkg/oci"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/leynos/gitops-local/bootstrap/manifest"
)

// ContentDigestAnnotation records the digest of the artifact's content (file
// paths, modes and bytes), so that an unchanged tree is not pushed again.
const ContentDigestAnnotation = "io.github.leynos.gitops-local.content-digest"

// Artifact is what Tree pushed, or found already pushed.
type Artifact struct {
	// URL is the artifact's oci:// address as the tool reaches it.
	URL string `json:"url"`
	// Revision is the git revision: "<branch>@sha1:<commit>", with
	// "+dirty.<content digest>" when the tree has uncommitted changes, or
	// "sha256:<content digest>" outside git.
	Revision string `json:"revision"`
	// ContentDigest is the sha256 of the content, independent of file times.
	ContentDigest string `json:"contentDigest"`
	// Digest is the manifest digest in the registry.
	Digest string `json:"digest"`
	// Skipped is true when the registry already held this content.
	Skipped bool `json:"skipped"`
}

// Publisher pushes artifacts to one registry.
type Publisher struct {
	registry string
	// dialTimeout bounds each connection and TLS handshake, answerTimeout
	// the wait for each of the registry's answers.
	dialTimeout, answerTimeout time.Duration
	insecure                   bool
	opts                       []crane.Option
	client                     *oci.Client
	now                        func() time.Time
}

// Option configures a Publisher.
type Option func(*Publisher)

// WithInsecure talks plain HTTP to the registry (a local registry).
func WithInsecure() Option {
	return func(p *Publisher) { p.insecure = true; p.opts = append(p.opts, crane.Insecure) }
}

// New returns a Publisher for the registry at host:port.
func New(registry string, options ...Option) (*Publisher, error) {
	if registry == "" || strings.Contains(registry, "://") {
		return nil, fmt.Errorf("invalid registry address %q: want host:port", registry)
	}
	p := &Publisher{registry: registry, now: time.Now, dialTimeout: dialTimeout, answerTimeout: answerTimeout}
	p.opts = oci.DefaultOptions()
	for _, o := range options {
		o(p)
	}
	p.opts = append(p.opts, crane.WithTransport(registryTransport(p.insecure, p.dialTimeout, p.answerTimeout)))
	p.client = oci.NewClient(p.opts)
	return p, nil
}

// Bounds of each exchange with the registry: a registry that accepts a
// connection and never answers fails the request instead of hanging it
// (crane retries a timed-out request twice). A whole push is bounded by
// its context.
const (
	dialTimeout   = 10 * time.Second
	answerTimeout = 30 * time.Second
)

// registryTransport is the HTTP transport to the registry: crane's default
// with every wait bounded. Insecure also accepts an untrusted certificate,
// as crane.Insecure does without a transport of its own.
func registryTransport(insecure bool, dial, answer time.Duration) *http.Transport {
	t := remote.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = dial
	t.ResponseHeaderTimeout = answer
	if insecure {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // a local registry, asked for with WithInsecure
	}
	return t
}

// Tree pushes manifest.PublishedDirs of repoRoot as the artifact
// repository:tag (for example "gitops-local/repo", "local"), unless the
// registry already holds the same content under that tag.
func (p *Publisher) Tree(ctx context.Context, repoRoot, repository, tag string) (*Artifact, error) {
	files, err := collect(repoRoot)
	if err != nil {
		return nil, err
	}
	content := digestFiles(files)
	rev, err := Revision(ctx, repoRoot, content)
	if err != nil {
		return nil, err
	}
	ref := fmt.Sprintf("%s/%s:%s", p.registry, repository, tag)
	a := &Artifact{URL: "oci://" + ref, Revision: rev, ContentDigest: content}

	if existing, digest, err := p.annotations(ctx, ref); err != nil {
		return nil, err
	} else if existing[ContentDigestAnnotation] == content {
		a.Digest, a.Skipped = digest, true
		return a, nil
	}

	stage, err := os.MkdirTemp("", "gitops-local-publish-")
	if err != nil {
		return nil, fmt.Errorf("staging artifact: %w", err)
	}
	defer os.RemoveAll(stage)
	for _, f := range files {
		dst := filepath.Join(stage, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, fmt.Errorf("staging artifact: %w", err)
		}
		if err := os.WriteFile(dst, f.data, f.mode); err != nil {
			return nil, fmt.Errorf("staging artifact: %w", err)
		}
	}
	meta := oci.Metadata{
		Source:      "file://" + filepath.ToSlash(repoRoot),
		Revision:    rev,
		Created:     p.now().UTC().Format(time.RFC3339),
		Annotations: map[string]string{ContentDigestAnnotation: content},
	}
	digest, err := p.client.Push(ctx, ref, stage, oci.WithPushMetadata(meta))
	if err != nil {
		return nil, fmt.Errorf("pushing %s: %w", a.URL, explain(p.registry, err))
	}
	// Push answers with "<repository>@sha256:…"; keep the digest alone.
	a.Digest = digest[strings.LastIndex(digest, "@")+1:]
	return a, nil
}

// manifest returns the raw manifest at ref, or nil when it does not exist.
func (p *Publisher) manifest(ctx context.Context, ref string) ([]byte, error) {
	opts := append([]crane.Option{crane.WithContext(ctx)}, p.opts...)
	raw, err := crane.Manifest(ref, opts...)
	if err != nil {
		var terr *transport.Error
		if errors.As(err, &terr) && terr.StatusCode == 404 {
			return nil, nil
		}
		return nil, fmt.Errorf("reading %s: %w", ref, explain(p.registry, err))
	}
	return raw, nil
}

// annotations returns the manifest annotations and digest of ref, or nothing
// when ref does not exist yet.
func (p *Publisher) annotations(ctx context.Context, ref string) (map[string]string, string, error) {
	raw, err := p.manifest(ctx, ref)
	if err != nil || raw == nil {
		return nil, "", err
	}
	var m struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, "", fmt.Errorf("reading %s: %w", ref, err)
	}
	sum := sha256.Sum256(raw)
	return m.Annotations, "sha256:" + hex.EncodeToString(sum[:]), nil
}

// explain turns a connection failure into an error that says what to do.
func explain(registry string, err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) {
		return err
	}
	if strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "no such host") {
		return fmt.Errorf("registry %s not reachable: is the cluster running? run gitops-local up: %w", registry, err)
	}
	return err
}

type file struct {
	path string // slash-separated, relative to the repository root
	mode os.FileMode
	data []byte
}

// collect reads manifest.PublishedDirs under root, in path order, leaving
// out editor and OS litter. Symbolic links are refused: the cluster could
// not follow them.
func collect(root string) ([]file, error) {
	var files []file
	for _, d := range manifest.PublishedDirs {
		base := filepath.Join(root, d)
		if _, err := os.Stat(base); err != nil {
			return nil, fmt.Errorf("reading %s: %w (is %s the gitops-local repository?)", base, err, root)
		}
		err := filepath.WalkDir(base, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := e.Name()
			if e.IsDir() {
				if name == ".git" {
					return filepath.SkipDir
				}
				return nil
			}
			if Ignored(name) {
				return nil
			}
			rel, _ := filepath.Rel(root, p)
			if e.Type()&fs.ModeSymlink != 0 {
				return fmt.Errorf("%s is a symbolic link: the artifact holds regular files only", rel)
			}
			info, err := e.Info()
			if err != nil {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			mode := os.FileMode(0o644)
			if info.Mode()&0o111 != 0 {
				mode = 0o755
			}
			files = append(files, file{path: filepath.ToSlash(rel), mode: mode, data: data})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", d, err)
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	return files, nil
}

// Ignored reports whether a file name is editor or OS litter that is never
// published (and whose changes the watch loop does not act on).
func Ignored(name string) bool {
	return name == ".DS_Store" || strings.HasSuffix(name, "~") || strings.HasSuffix(name, ".swp") ||
		strings.HasPrefix(name, ".#") || strings.HasSuffix(name, ".orig") || strings.HasSuffix(name, ".rej")
}

// digestFiles hashes paths, modes and contents, so the digest changes exactly
// when what Flux would see changes.
func digestFiles(files []file) string {
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%o\x00%d\x00", f.path, f.mode, len(f.data))
		h.Write(f.data)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Revision is the git revision of repoRoot's GitOps tree: "<branch>@sha1:<commit>",
// with "+dirty.<first 12 hex of the content digest>" when
// manifest.PublishedDirs have uncommitted changes; the content digest alone
// outside a git work tree.
func Revision(ctx context.Context, repoRoot, contentDigest string) (string, error) {
	commit, err := git(ctx, repoRoot, "rev-parse", "HEAD")
	if err != nil {
		// Not a git work tree, or no commit yet: the content is the revision.
		return contentDigest, nil
	}
	branch, err := git(ctx, repoRoot, "rev-parse", "--abbrev-ref", "HEAD")
	if err != nil || branch == "HEAD" {
		branch = "detached"
	}
	rev := branch + "@sha1:" + commit
	status, err := git(ctx, repoRoot, append([]string{"status", "--porcelain", "--"}, manifest.PublishedDirs...)...)
	if err != nil {
		return "", fmt.Errorf("reading git status of %s: %w", repoRoot, err)
	}
	if status != "" {
		rev += "+dirty." + strings.TrimPrefix(contentDigest, "sha256:")[:12]
	}
	return rev, nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errOut.String()))
	}
	return strings.TrimSpace(out.String()), nil
}
