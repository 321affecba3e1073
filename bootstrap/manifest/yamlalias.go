package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"gopkg.in/yaml.v3"
)

// ErrExcessiveAliasing is wrapped by CheckYAMLAliases' error when a
// document expands its aliases beyond what Kubernetes' YAML decoders allow.
var ErrExcessiveAliasing = errors.New("excessive aliasing")

// CheckYAMLAliases refuses a YAML stream whose aliases would expand beyond
// what Kubernetes' own decoders accept, without expanding them: a "billion
// laughs" document of a few hundred bytes otherwise costs gigabytes in the
// decoders that expand aliases without a bound (kustomize's).
//
// Each document is parsed into a node tree, which keeps an alias as one
// node, and its decoding into Go values is counted as go-yaml's decoder
// counts it (go.yaml.in/yaml/v3 and sigs.k8s.io/yaml's go-yaml v2 fork,
// decode.go: decodeCount, aliasCount and allowedAliasRatio): the check
// fails at the same node the decoder would. (A merge key's mapping is
// counted in full, where the decoder skips the values the mapping
// overrides and counts the mapping's keys twice: for those documents the
// check is the stricter.) The count stops there, so the work is bounded by
// the decoder's own limit, and nothing is allocated per expanded node. Syntax errors are left to the callers' parsers: the
// stream's documents up to the first one are checked.
func CheckYAMLAliases(data []byte) error {
	if !bytes.Contains(data, []byte("*")) || !bytes.Contains(data, []byte("&")) {
		return nil // no alias, or nothing an alias could name
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for n := 1; ; n++ {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return nil // a syntax error: not this check's to report
		}
		c := aliasCounter{active: map[*yaml.Node]bool{}}
		if err := c.visit(&doc); err != nil {
			return fmt.Errorf("document %d: %w", n, err)
		}
	}
}

// aliasCounter counts a document's decoding as go-yaml's decoder does.
type aliasCounter struct {
	decodes, aliases, depth int
	active                  map[*yaml.Node]bool
}

func (c *aliasCounter) visit(n *yaml.Node) error {
	c.decodes++
	if c.depth > 0 {
		c.aliases++
	}
	if c.aliases > 100 && c.decodes > 1000 && float64(c.aliases)/float64(c.decodes) > allowedAliasRatio(c.decodes) {
		return fmt.Errorf("%w: its aliases expand to more than %d nodes, which Kubernetes' YAML decoders refuse",
			ErrExcessiveAliasing, c.aliases)
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return nil
		}
		if c.active[n] {
			return fmt.Errorf("%w: anchor %q contains itself", ErrExcessiveAliasing, n.Value)
		}
		c.active[n] = true
		c.depth++
		err := c.visit(n.Alias)
		c.depth--
		delete(c.active, n)
		return err
	}
	for _, ch := range n.Content {
		if err := c.visit(ch); err != nil {
			return err
		}
	}
	return nil
}

// allowedAliasRatio is go-yaml's: up to 99% of the decoded nodes may come
// from aliases in documents of up to 400,000 nodes, falling linearly to 10%
// at 4,000,000 nodes.
func allowedAliasRatio(decodes int) float64 {
	const low, high = 400000, 4000000
	switch {
	case decodes <= low:
		return 0.99
	case decodes >= high:
		return 0.10
	default:
		return 0.99 - 0.89*(float64(decodes-low)/float64(high-low))
	}
}
