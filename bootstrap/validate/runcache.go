package validate

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/leynos/gitops-local/bootstrap/gitops"
	"github.com/leynos/gitops-local/bootstrap/render"
)

// A clean report is kept in the result cache under the digest of every
// input the run reads: the repository's files, the folders --source and
// --fixtures name, the chart cache's entries, the targets and the options
// (the tool's own identity is part of every key, see package resultcache).
// Validating an unchanged tree again then reads and hashes files and
// builds nothing. Only a clean report is kept: a finding can come from a
// render stopped by its time bound, which depends on the machine, and a
// run with findings is the one a user is about to change anyway.

// reportFormat versions the report key and the cached report's encoding.
const reportFormat = "gitops-local validate report v1"

// ValidateCached is Validate (every environment when targets is empty)
// or ValidateTargets with a Checker from newChecker, with the report read
// from cache instead when every input is as in an earlier clean run; it
// reports whether it was. A nil cache validates.
func ValidateCached(ctx context.Context, newChecker func() (*Checker, error), repoRoot string, targets []gitops.Target, opts gitops.Options, cache render.ResultCache) (*Report, bool, error) {
	run := func() (*Report, error) {
		c, err := newChecker()
		if err != nil {
			return nil, err
		}
		if len(targets) == 0 {
			return c.Validate(ctx, repoRoot, nil, opts)
		}
		return c.ValidateTargets(ctx, repoRoot, targets, opts)
	}
	if cache == nil {
		r, err := run()
		return r, false, err
	}
	key, err := reportKey(repoRoot, targets, opts)
	if err != nil {
		// An input that cannot be read is for the run to report.
		r, err := run()
		return r, false, err
	}
	if data, ok := cache.Get(key); ok {
		var r Report
		if json.Unmarshal(data, &r) == nil && r.Clean() {
			return &r, true, nil
		}
	}
	r, err := run()
	if err != nil || ctx.Err() != nil || !r.Clean() {
		return r, false, err
	}
	// The inputs must not have changed while the run read them.
	if again, err := reportKey(repoRoot, targets, opts); err == nil && again == key {
		if data, err := json.Marshal(r); err == nil {
			_ = cache.Put(key, data) // a report not stored is only slower next time
		}
	}
	return r, false, nil
}

// reportKey is the digest of everything a validate run with these
// arguments reads. Each field of gitops.Options is either hashed or named
// here as not changing the report (TestReportKeyCoversEveryOption).
func reportKey(repoRoot string, targets []gitops.Target, opts gitops.Options) ([sha256.Size]byte, error) {
	h := sha256.New()
	str := func(s string) {
		_ = binary.Write(h, binary.BigEndian, uint64(len(s)))
		io.WriteString(h, s)
	}
	str(reportFormat)
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	str(root)
	if err := treeDigest(h, root, true); err != nil {
		return [sha256.Size]byte{}, err
	}
	tj, err := json.Marshal(targets)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	str(string(tj))
	str(fmt.Sprint(opts.Offline))
	// The chart cache holds one archive per chart version, written once:
	// its entries' names, sizes and times stand for their content.
	if opts.ChartCache != nil {
		str(opts.ChartCache.Dir())
		if err := listingDigest(h, opts.ChartCache.Dir()); err != nil {
			return [sha256.Size]byte{}, err
		}
	}
	for _, k := range slices.Sorted(mapKeys(opts.Vars)) {
		str(k)
		str(opts.Vars[k])
	}
	str("sources")
	for _, ref := range slices.SortedFunc(mapKeys(opts.Sources), func(a, b gitops.SourceRef) int { return strings.Compare(a.String(), b.String()) }) {
		dir, err := filepath.Abs(opts.Sources[ref])
		if err != nil {
			return [sha256.Size]byte{}, err
		}
		str(ref.String())
		str(dir)
		if err := treeDigest(h, dir, true); err != nil {
			return [sha256.Size]byte{}, err
		}
	}
	str("revisions")
	for _, ref := range slices.SortedFunc(mapKeys(opts.Revisions), func(a, b gitops.SourceRef) int { return strings.Compare(a.String(), b.String()) }) {
		str(ref.String())
		str(opts.Revisions[ref])
	}
	str("fixtures")
	if opts.Fixtures != "" {
		dir, err := filepath.Abs(opts.Fixtures)
		if err != nil {
			return [sha256.Size]byte{}, err
		}
		str(dir)
		if err := treeDigest(h, dir, false); err != nil {
			return [sha256.Size]byte{}, err
		}
	}
	str(fmt.Sprintf("%d %d %d", opts.RenderLimits.Timeout, opts.RenderLimits.MaxManifestBytes, opts.RenderLimits.MaxMemoryBytes))
	// opts.Renders and opts.Results share work between runs: they change
	// how fast a report comes, not what it says.
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out, nil
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// maxHashedFile is the size past which treeDigest takes a file's size,
// times and identity for its content.
const maxHashedFile = 1 << 20

// treeDigest hashes every entry under dir in lexical order: its path,
// type and mode, a file's content (see maxHashedFile), a link's target
// (never followed). With
// skipGit, the .git folder at dir's top is left out: source-controller's
// archive never holds it.
func treeDigest(h hash.Hash, dir string, skipGit bool) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if skipGit && d.IsDir() && rel == ".git" {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%q %v\n", filepath.ToSlash(rel), info.Mode())
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "-> %q\n", target)
		case info.Mode().IsRegular() && info.Size() > maxHashedFile:
			// A large file (a binary, an archive; no manifest is this
			// large) stands by its size, times and identity.
			fmt.Fprintf(h, "%d %d %s\n", info.Size(), info.ModTime().UnixNano(), fileIdentity(info))
		case info.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			n, err := io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "\n%d\n", n)
		}
		return nil
	})
}

// listingDigest hashes the path, size, mode and modification time of
// every entry under dir; a missing dir hashes as empty.
func listingDigest(h hash.Hash, dir string) error {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%q %v %d %d\n", filepath.ToSlash(rel), info.Mode(), info.Size(), info.ModTime().UnixNano())
		return nil
	})
	if os.IsNotExist(err) {
		return nil
	}
	return err
}
