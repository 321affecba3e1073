package image

import (
	"fmt"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

const dockerfilePath = "../../Dockerfile"

// versionTag matches a tag that names an exact release: major.minor.patch,
// an optional pre-release such as rc1, then the variant and distribution.
var versionTag = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)(?:(?:a|b|rc)\d+)?(?:-([a-z0-9][a-z0-9.-]*))?$`)

// floatingVariants are variants that do not name their distribution, so the
// operating system under them changes when upstream's default does.
var floatingVariants = map[string]bool{"": true, "slim": true, "alpine": true}

// exactPin returns an error unless ref names an image by an exact version:
// a tag with major.minor.patch and a named distribution (python:3.14.6-slim-
// trixie), optionally followed by a sha256 digest. It rejects untagged
// references, latest, floating tags such as 3.14-slim or slim-trixie, and
// tags whose distribution floats (3.14.6, 3.14.6-slim).
func exactPin(ref string) error {
	if ref == "" {
		return fmt.Errorf("empty image reference")
	}
	if strings.Contains(ref, "$") {
		return fmt.Errorf("image %q uses a build argument: pin it literally", ref)
	}
	named, digest, hasDigest := strings.Cut(ref, "@")
	if hasDigest && !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(digest) {
		return fmt.Errorf("image %q: digest %q is not sha256 with 64 hex digits", ref, digest)
	}
	slash := strings.LastIndex(named, "/")
	colon := strings.LastIndex(named, ":")
	if colon <= slash {
		return fmt.Errorf("image %q has no tag: name an exact version", ref)
	}
	tag := named[colon+1:]
	if tag == "latest" {
		return fmt.Errorf("image %q uses latest: name an exact version", ref)
	}
	m := versionTag.FindStringSubmatch(tag)
	if m == nil {
		return fmt.Errorf("image %q: tag %q is not an exact major.minor.patch version", ref, tag)
	}
	if floatingVariants[m[4]] {
		return fmt.Errorf("image %q: tag %q does not name its distribution (add one, e.g. -slim-trixie)", ref, tag)
	}
	return nil
}

func TestExactPin(t *testing.T) {
	digest := "sha256:" + strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		ref string
		ok  bool
	}{
		{"python:3.14.6-slim-trixie", true},
		{"python:3.14.6-slim-bookworm", true},
		{"docker.io/library/python:3.14.6-slim-trixie", true},
		{"python:3.14.6-slim-trixie@" + digest, true},
		{"python:3.15.0rc1-slim-trixie", true},
		{"python:3.14.6-alpine3.22", true},
		{"localhost:5000/python:3.14.6-slim-trixie", true},

		{"", false},
		{"python", false},
		{"python@" + digest, false},
		{"localhost:5000/python", false},
		{"python:latest", false},
		{"python:3.14-slim", false},
		{"python:3.14-slim-trixie", false},
		{"python:3-slim", false},
		{"python:slim-trixie", false},
		{"python:slim", false},
		{"python:3.14", false},
		{"python:3.14.6", false},
		{"python:3.14.6-slim", false},
		{"python:3.14.6-alpine", false},
		{"python:3.14.6-slim-trixie@sha256:abc", false},
		{"python:${PYTHON_VERSION}-slim-trixie", false},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			err := exactPin(tt.ref)
			if tt.ok && err != nil {
				t.Errorf("exactPin(%q) = %v, want accepted", tt.ref, err)
			}
			if !tt.ok && err == nil {
				t.Errorf("exactPin(%q) accepted it, want an error", tt.ref)
			}
		})
	}
}

// parseDockerfile parses the repository's Dockerfile with BuildKit's parser.
func parseDockerfile(t *testing.T) []instructions.Stage {
	t.Helper()
	f, err := os.Open(dockerfilePath)
	if err != nil {
		t.Fatalf("opening the Dockerfile: %v", err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("parsing the Dockerfile: %v", err)
	}
	for _, w := range res.Warnings {
		t.Errorf("Dockerfile parser warning: %s", w.Short)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		t.Fatalf("reading the Dockerfile's instructions: %v", err)
	}
	if len(metaArgs) != 0 {
		t.Errorf("Dockerfile has %d ARGs before FROM; base images should be literal", len(metaArgs))
	}
	return stages
}

// commands returns the commands of type T in a stage, in order.
func commands[T instructions.Command](s instructions.Stage) []T {
	var out []T
	for _, c := range s.Commands {
		if v, ok := c.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// runs returns the command lines of a stage's RUN instructions.
func runs(s instructions.Stage) []string {
	var out []string
	for _, r := range commands[*instructions.RunCommand](s) {
		out = append(out, strings.Join(r.CmdLine, " "))
	}
	return out
}

// env returns a stage's ENV settings.
func env(s instructions.Stage) map[string]string {
	out := map[string]string{}
	for _, e := range commands[*instructions.EnvCommand](s) {
		for _, kv := range e.Env {
			out[kv.Key] = kv.Value
		}
	}
	return out
}

func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t)
	if len(stages) != 2 {
		t.Fatalf("Dockerfile has %d stages, want 2 (build and runtime)", len(stages))
	}
	build, runtime := stages[0], stages[1]
	if build.Name != "build" || runtime.Name != "runtime" {
		t.Errorf("stages are named %q and %q, want build and runtime", build.Name, runtime.Name)
	}

	t.Run("base images pinned to Python 3.14", func(t *testing.T) {
		for _, s := range stages {
			if err := exactPin(s.BaseName); err != nil {
				t.Errorf("stage %s: %v", s.Name, err)
			}
			repo, tag, _ := strings.Cut(strings.SplitN(s.BaseName, "@", 2)[0], ":")
			if repo != "python" && repo != "docker.io/library/python" {
				t.Errorf("stage %s is based on %s, want the official python image", s.Name, s.BaseName)
			}
			if !strings.HasPrefix(tag, "3.14.") {
				t.Errorf("stage %s is based on %s, want a Python 3.14.x tag (Ghillie requires 3.14)", s.Name, s.BaseName)
			}
		}
		if build.BaseName != runtime.BaseName {
			t.Errorf("build is on %s but runtime on %s: the wheels must be built for the Python they run on",
				build.BaseName, runtime.BaseName)
		}
	})

	t.Run("wheel built in build, installed in runtime", func(t *testing.T) {
		if !slices.ContainsFunc(runs(build), func(r string) bool {
			return strings.Contains(r, "pip wheel") && strings.Contains(r, "--wheel-dir /wheels")
		}) {
			t.Errorf("build stage does not run pip wheel --wheel-dir /wheels; its RUNs: %q", runs(build))
		}
		if slices.ContainsFunc(runs(runtime), func(r string) bool { return strings.Contains(r, "pip wheel") }) {
			t.Errorf("runtime stage builds wheels; it should only install them")
		}
		copied := slices.ContainsFunc(commands[*instructions.CopyCommand](runtime), func(c *instructions.CopyCommand) bool {
			return c.From == build.Name && slices.Contains(c.SourcePaths, "/wheels")
		})
		if !copied {
			t.Errorf("runtime stage does not COPY --from=%s /wheels", build.Name)
		}
		if !slices.ContainsFunc(runs(runtime), func(r string) bool {
			return strings.Contains(r, "pip install") && strings.Contains(r, "/wheels/") &&
				strings.Contains(r, "--no-index")
		}) {
			t.Errorf("runtime stage does not pip install --no-index the wheels from /wheels/; its RUNs: %q", runs(runtime))
		}
		for _, r := range runs(runtime) {
			if strings.Contains(r, "apt-get install") {
				t.Errorf("runtime stage installs system packages (%s); build tools belong in the build stage", r)
			}
		}
	})

	t.Run("runs as ghillie uid 1000", func(t *testing.T) {
		users := commands[*instructions.UserCommand](runtime)
		if len(users) == 0 {
			t.Fatal("runtime stage has no USER: the image would run as root")
		}
		switch last := users[len(users)-1].User; last {
		case "1000", "1000:1000":
		case "ghillie", "ghillie:ghillie":
		default:
			t.Fatalf("final USER is %q, want 1000, 1000:1000 or ghillie", last)
		}
		group := regexp.MustCompile(`\bgroupadd\b[^&;]*--gid 1000\b[^&;]* ghillie(\s|$)`)
		user := regexp.MustCompile(`\buseradd\b[^&;]*--uid 1000\b[^&;]*--gid 1000\b[^&;]* ghillie(\s|$)`)
		created := slices.ContainsFunc(runs(runtime), func(r string) bool {
			return group.MatchString(r) && user.MatchString(r)
		})
		if !created {
			t.Errorf("runtime stage does not create group and user ghillie with uid/gid 1000; its RUNs: %q", runs(runtime))
		}
	})

	t.Run("entrypoint, command and port", func(t *testing.T) {
		eps := commands[*instructions.EntrypointCommand](runtime)
		if len(eps) == 0 {
			t.Fatal("runtime stage has no ENTRYPOINT")
		}
		if ep := eps[len(eps)-1]; ep.PrependShell || !slices.Equal(ep.CmdLine, []string{"ghillie-entrypoint"}) {
			t.Errorf("ENTRYPOINT = %q (shell form %v), want exec form [\"ghillie-entrypoint\"]", ep.CmdLine, ep.PrependShell)
		}
		cmds := commands[*instructions.CmdCommand](runtime)
		if len(cmds) == 0 {
			t.Fatal("runtime stage has no CMD")
		}
		want := []string{"python", "-m", "ghillie.runtime"}
		if cmd := cmds[len(cmds)-1]; cmd.PrependShell || !slices.Equal(cmd.CmdLine, want) {
			t.Errorf("CMD = %q (shell form %v), want exec form %q", cmd.CmdLine, cmd.PrependShell, want)
		}
		entrypointCopied := slices.ContainsFunc(commands[*instructions.CopyCommand](runtime), func(c *instructions.CopyCommand) bool {
			return c.From == "" && slices.Equal(c.SourcePaths, []string{"docker/entrypoint.sh"}) &&
				c.DestPath == "/usr/local/bin/ghillie-entrypoint"
		})
		if !entrypointCopied {
			t.Errorf("runtime stage does not COPY docker/entrypoint.sh to /usr/local/bin/ghillie-entrypoint")
		}
		var ports []string
		for _, e := range commands[*instructions.ExposeCommand](runtime) {
			ports = append(ports, e.Ports...)
		}
		if !slices.Contains(ports, "8080") && !slices.Contains(ports, "8080/tcp") {
			t.Errorf("EXPOSE lists %q, want 8080", ports)
		}
	})

	t.Run("environment", func(t *testing.T) {
		got := env(runtime)
		for k, v := range map[string]string{
			"PYTHONDONTWRITEBYTECODE": "1",
			"PYTHONUNBUFFERED":        "1",
			"GHILLIE_PORT":            "8080",
		} {
			if got[k] != v {
				t.Errorf("runtime ENV %s = %q, want %q", k, got[k], v)
			}
		}
	})

	t.Run("healthcheck on /health", func(t *testing.T) {
		hcs := commands[*instructions.HealthCheckCommand](runtime)
		if len(hcs) == 0 {
			t.Fatal("runtime stage has no HEALTHCHECK")
		}
		h := hcs[len(hcs)-1].Health
		if len(h.Test) < 2 || h.Test[0] != "CMD" {
			t.Fatalf("HEALTHCHECK test = %q, want the exec form CMD [...]", h.Test)
		}
		probe := strings.Join(h.Test[1:], " ")
		for _, want := range []string{"python", "urllib", "http://127.0.0.1:", "'8080'"} {
			if !strings.Contains(probe, want) {
				t.Errorf("HEALTHCHECK %q does not contain %q", probe, want)
			}
		}
		if !regexp.MustCompile(`/health(['"\s]|$)`).MatchString(probe) {
			t.Errorf("HEALTHCHECK %q does not probe the /health path", probe)
		}
		if strings.Contains(probe, "curl") || strings.Contains(probe, "wget") {
			t.Errorf("HEALTHCHECK %q uses a tool slim images lack", probe)
		}
		if h.Interval <= 0 || h.Timeout <= 0 || h.Retries <= 0 {
			t.Errorf("HEALTHCHECK interval %v, timeout %v, retries %d: set all three", h.Interval, h.Timeout, h.Retries)
		}
	})

	t.Run("every COPY source is in the context", func(t *testing.T) {
		_, members := readContext(t, buildContext(t, repoRoot, fakeGhillie))
		var names []string
		for name := range members {
			names = append(names, strings.TrimSuffix(name, "/"))
		}
		slices.Sort(names)
		checked := 0
		for _, s := range stages {
			for _, c := range commands[*instructions.CopyCommand](s) {
				if c.From != "" {
					continue
				}
				for _, src := range c.SourcePaths {
					checked++
					if !inContext(names, src) {
						t.Errorf("stage %s: COPY %s: not in the build context %q", s.Name, src, names)
					}
				}
			}
			for _, a := range commands[*instructions.AddCommand](s) {
				t.Errorf("stage %s uses ADD %q: use COPY, which the context check covers", s.Name, a.SourcePaths)
			}
		}
		if checked == 0 {
			t.Error("no COPY from the context found; the check checked nothing")
		}
	})
}

// inContext reports whether a COPY source (a path or glob relative to the
// context root) matches a context entry.
func inContext(names []string, src string) bool {
	src = strings.TrimSuffix(strings.TrimPrefix(path.Clean("/"+src), "/"), "/")
	return slices.ContainsFunc(names, func(n string) bool {
		ok, err := path.Match(src, n)
		return err == nil && ok
	})
}
