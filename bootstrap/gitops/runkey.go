package gitops

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// RunKey is the digest of everything a build of targets (every
// environment when empty) of the repository at repoRoot with opts reads:
// the repository's files (all but .git), the --source and --fixtures
// folders, the chart cache's entries, the targets and the options; what is
// the digest of, what a caller keeps under it. Each field of Options is
// either hashed or named here as not changing what a build gives
// (TestRunKeyCoversEveryOption). The tool's own identity is for the
// cache to add (see package resultcache).
func RunKey(what, repoRoot string, targets []Target, opts Options) ([sha256.Size]byte, error) {
	h := sha256.New()
	str := func(s string) {
		_ = binary.Write(h, binary.BigEndian, uint64(len(s)))
		io.WriteString(h, s)
	}
	str(what)
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
	for _, k := range slices.Sorted(maps.Keys(opts.Vars)) {
		str(k)
		str(opts.Vars[k])
	}
	str("sources")
	for _, ref := range slices.SortedFunc(maps.Keys(opts.Sources), func(a, b SourceRef) int { return strings.Compare(a.String(), b.String()) }) {
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
	for _, ref := range slices.SortedFunc(maps.Keys(opts.Revisions), func(a, b SourceRef) int { return strings.Compare(a.String(), b.String()) }) {
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
