package benchtools

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
)

// NoCacheFlag makes validate and build skip their on-disk result cache.
const NoCacheFlag = "--no-cache"

var noCacheFlag = regexp.MustCompile(`(?m)^\s+(?:-\w, )?--no-cache\b`)

// ListsNoCache reports whether a command's help text documents --no-cache
// as one of its flags.
func ListsNoCache(help []byte) bool { return noCacheFlag.Match(help) }

// SupportsNoCache reports whether bin's `validate --help` lists --no-cache:
// a cold run passes it, so that the benchmarks work with builds of
// gitops-local from before and after the result cache.
func SupportsNoCache(ctx context.Context, bin string) (bool, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "validate", "--help")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return false, fmt.Errorf("%s validate --help: %w\n%s", bin, err, out.String())
	}
	return ListsNoCache(out.Bytes()), nil
}

// Cold returns args with --no-cache appended when noCache is set.
func Cold(noCache bool, args ...string) []string {
	if noCache {
		return append(args, NoCacheFlag)
	}
	return args
}
