package gitops

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// isVarKey is the KEY rule ParseVars documents, written out without its
// regular expression: an ASCII letter or _, then ASCII letters, digits or
// _ (kustomize-controller's rule for post-build substitution variables).
func isVarKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// FuzzParseVars: a cluster-vars.env is the repository's, so any bytes.
// ParseVars never panics; every variable it returns has a KEY the rule
// allows; every line it reports is really not KEY=value (and every other
// line is blank, a comment or KEY=value); and writing the variables back
// as KEY=value lines parses to the same variables.
func FuzzParseVars(f *testing.F) {
	// The environments of this repository are seeds too.
	envs, _ := filepath.Glob(filepath.Join(repoRoot, OverlaysDir, "*", VarsFile))
	more, _ := filepath.Glob(filepath.Join(repoRoot, OverlaysDir, "*", "*", VarsFile))
	for _, p := range append(envs, more...) {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		vars, bad := ParseVars(data)
		for k := range vars {
			if !isVarKey(k) {
				t.Errorf("key %q does not follow the KEY rule", k)
			}
		}
		lines := strings.Split(string(data), "\n")
		isBad := map[int]bool{}
		for i, n := range bad {
			if n < 1 || n > len(lines) || i > 0 && n <= bad[i-1] {
				t.Fatalf("bad lines %v: want increasing line numbers within the %d lines", bad, len(lines))
			}
			isBad[n] = true
		}
		for i, raw := range lines {
			line := strings.TrimSpace(raw)
			if line == "" || strings.HasPrefix(line, "#") {
				if isBad[i+1] {
					t.Errorf("line %d %q is blank or a comment, reported bad", i+1, raw)
				}
				continue
			}
			k, _, ok := strings.Cut(line, "=")
			valid := ok && isVarKey(strings.TrimSpace(k))
			if valid == isBad[i+1] {
				t.Errorf("line %d %q: KEY=value %v, reported bad %v", i+1, raw, valid, isBad[i+1])
			}
			if valid {
				if _, ok := vars[strings.TrimSpace(k)]; !ok {
					t.Errorf("line %d %q: key missing from %v", i+1, raw, vars)
				}
			}
		}

		keys := make([]string, 0, len(vars))
		for k := range vars {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var out strings.Builder
		for _, k := range keys {
			out.WriteString(k + "=" + vars[k] + "\n")
		}
		again, bad := ParseVars([]byte(out.String()))
		if len(bad) > 0 || !reflect.DeepEqual(again, vars) {
			t.Errorf("written back as\n%s\nparses to %q (bad lines %v), want %q", out.String(), again, bad, vars)
		}
	})
}
