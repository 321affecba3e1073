// Package parity checks the differences between the local environment and
// a cloud one against a contract: the file overlays/local/parity.yaml,
// which declares every intended difference as a pattern over the objects'
// kind, name, owner and field. A difference no declaration matches is
// drift; a declaration that matches nothing is stale. Both fail the check,
// so the file stays true.
package parity

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// File is where the contract lives, relative to the repository root.
const File = "overlays/local/parity.yaml"

// APIVersion and Kind identify a parity file; another apiVersion is
// refused, so that a later format is never read as this one.
const (
	APIVersion = "gitops-local/v1alpha1"
	Kind       = "Parity"
)

// LocalEnv is the environment every cloud environment is compared with.
const LocalEnv = "local"

// maxFileSize bounds what is read of a parity file.
const maxFileSize = 1 << 20

// Sides a declaration of an object one environment lacks names.
const (
	OnlyLocal = "local"
	OnlyCloud = "cloud"
)

// Contract is the decoded parity file.
type Contract struct {
	APIVersion   string        `json:"apiVersion"`
	Kind         string        `json:"kind"`
	Environments []Environment `json:"environments"`
}

// Environment is the intended differences between local and one cloud
// environment (named as under overlays/, e.g. ephemeral/pr-123).
type Environment struct {
	Name        string        `json:"name"`
	Differences []Declaration `json:"differences"`
}

// Declaration is one intended difference. Kind, Name, Owner and Field are
// patterns: "*" matches any run of characters, everything else matches
// itself; an empty Kind, Name or Owner matches anything.
//
// With Only set ("local" or "cloud"), it declares objects only that side
// deploys; otherwise it declares the fields matching Field of objects both
// deploy.
type Declaration struct {
	// Reason says why the difference is intended; it names the difference
	// in reports.
	Reason string `json:"reason"`
	Only   string `json:"only,omitempty"`
	// Kind matches the object's Kind, or "group/Kind" when it holds a "/".
	Kind string `json:"kind,omitempty"`
	Name string `json:"name,omitempty"`
	// Owner matches "Kustomization/namespace/name" of the Flux
	// Kustomization that applies the object, or
	// "HelmRelease/namespace/name" of the HelmRelease that renders it; it
	// also matches that Kustomization or HelmRelease itself.
	Owner string `json:"owner,omitempty"`
	// Field matches a field path as diff prints it:
	// spec.values.image.tag, spec.template.spec.containers[0].image.
	Field string `json:"field,omitempty"`
}

// Load reads and checks the parity file of the repository at root. A
// missing file is an error wrapping fs.ErrNotExist.
func Load(root string) (*Contract, error) {
	p := filepath.Join(root, filepath.FromSlash(File))
	st, err := os.Lstat(p)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", File, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", File)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", File, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", File, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", File, maxFileSize)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", File, err)
	}
	return c, nil
}

// Parse decodes a parity file strictly (an unknown field is an error) and
// checks every declaration.
func Parse(data []byte) (*Contract, error) {
	if n := bytes.Count(data, []byte("\n---")); n > 0 {
		return nil, errors.New("holds more than one YAML document")
	}
	var c Contract
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("%s", strings.ReplaceAll(err.Error(), "\n", " "))
	}
	if c.APIVersion != APIVersion || c.Kind != Kind {
		return nil, fmt.Errorf("apiVersion %q kind %q: want apiVersion %s, kind %s", c.APIVersion, c.Kind, APIVersion, Kind)
	}
	seen := map[string]bool{}
	for i, e := range c.Environments {
		at := fmt.Sprintf("environments[%d]", i)
		if e.Name == "" {
			return nil, fmt.Errorf("%s.name: empty: name a cloud environment, e.g. ephemeral/pr-123", at)
		}
		if seen[e.Name] {
			return nil, fmt.Errorf("%s.name: %s is declared twice", at, e.Name)
		}
		seen[e.Name] = true
		for j, d := range e.Differences {
			if err := d.check(); err != nil {
				return nil, fmt.Errorf("%s.differences[%d]: %w", at, j, err)
			}
		}
	}
	return &c, nil
}

// For returns the declarations for the cloud environment env.
func (c *Contract) For(env string) ([]Declaration, error) {
	names := []string{}
	for _, e := range c.Environments {
		if e.Name == env {
			return e.Differences, nil
		}
		names = append(names, e.Name)
	}
	declared := "none"
	if len(names) > 0 {
		declared = strings.Join(names, ", ")
	}
	return nil, fmt.Errorf("%s declares no differences with %s (environments declared: %s): add one named %s", File, env, declared, env)
}

func (d Declaration) check() error {
	if strings.TrimSpace(d.Reason) == "" {
		return errors.New("reason: empty: say why the difference is intended")
	}
	switch d.Only {
	case "":
		if d.Field == "" {
			return errors.New(`field: empty: a declaration names a field, or only: local or only: cloud for objects one side lacks`)
		}
	case OnlyLocal, OnlyCloud:
		if d.Field != "" {
			return fmt.Errorf("field: %q: a declaration with only: %s is about whole objects, not fields", d.Field, d.Only)
		}
	default:
		return fmt.Errorf("only: %q: want local or cloud", d.Only)
	}
	for _, p := range []struct{ name, value string }{{"kind", d.Kind}, {"name", d.Name}, {"owner", d.Owner}, {"field", d.Field}} {
		if err := checkPattern(p.value); err != nil {
			return fmt.Errorf("%s: %q: %w", p.name, p.value, err)
		}
	}
	if d.Owner != "" && !strings.HasPrefix(d.Owner, "Kustomization/") && !strings.HasPrefix(d.Owner, "HelmRelease/") && !strings.HasPrefix(d.Owner, "*") {
		return fmt.Errorf("owner: %q: want Kustomization/NAMESPACE/NAME or HelmRelease/NAMESPACE/NAME", d.Owner)
	}
	return nil
}

// checkPattern refuses what a pattern does not support: "*" is the only
// wildcard, so glob and regular-expression syntax is an error rather than
// text that silently never matches.
func checkPattern(p string) error {
	if strings.Contains(p, "**") {
		return errors.New(`"**" is not a pattern: "*" already matches any run of characters`)
	}
	if i := strings.IndexAny(p, "?{}^$\\|"); i >= 0 {
		return fmt.Errorf("%q is not a pattern character: only * is a wildcard", p[i])
	}
	return nil
}

// match reports whether s matches pattern p ("*" any run of characters;
// the empty pattern matches anything).
func match(p, s string) bool {
	if p == "" {
		return true
	}
	parts := strings.Split(p, "*")
	if len(parts) == 1 {
		return p == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return strings.HasSuffix(s, last)
}
