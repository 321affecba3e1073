package gitops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	fluxkustomize "github.com/fluxcd/pkg/kustomize"
	"github.com/fluxcd/pkg/ssa"
	"github.com/fluxcd/pkg/ssa/normalize"
	ssautil "github.com/fluxcd/pkg/ssa/utils"
	yamlv2 "go.yaml.in/yaml/v2"
	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/resmap"
	kustypes "sigs.k8s.io/kustomize/api/types"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/leynos/gitops-local/bootstrap/manifest"
)

// originAnnotation is what kustomize's originAnnotations build metadata
// adds; the builder turns it in an Origin and removes it.
const originAnnotation = "config.kubernetes.io/origin"

// buildKustomization builds one Flux Kustomization as kustomize-controller
// would and returns its objects, labelled as the controller labels them.
// key is its namespace/name, empty for the root.
func (b *builder) buildKustomization(ctx context.Context, ks manifest.Object, key string) []manifest.Object {
	ref := ks.Ref()
	fail := func(field, msg string) []manifest.Object {
		file := ks.Origin.File
		if file == "" { // the root: bootstrap creates it, its path is the target
			file, field = b.target.Name(), ""
			if b.env != "" {
				file = path.Join(OverlaysDir, b.env)
			}
		}
		b.addFinding(manifest.Finding{File: file, Line: ks.Origin.Line, Object: ref, Field: field, Message: msg})
		return nil
	}
	tree := b.sourceTree(ctx, ks)
	if tree == nil {
		return nil
	}
	specPath, _, _ := unstructured.NestedString(ks.Object, "spec", "path")
	dirPath, err := securejoin.SecureJoin(tree.dir, specPath)
	if err != nil {
		return fail("spec.path", fmt.Sprintf("path %q: %v", specPath, err))
	}
	relDir := b.rel(dirPath)
	if st, err := os.Stat(dirPath); err != nil || !st.IsDir() {
		where := "the source " + sourceRefOf(ks).String()
		if tree == b.tree && b.env != "" {
			where = fmt.Sprintf("the published directories (%s)", strings.Join(manifest.PublishedDirs, ", "))
		} else if tree.label != "" {
			where += " (" + tree.label + ")"
		}
		return fail("spec.path", fmt.Sprintf("path %q does not exist in %s", specPath, where))
	}

	u := unstructured.Unstructured{Object: deepCopyMap(ks.Object)}
	_ = unstructured.SetNestedStringSlice(u.Object, []string{"originAnnotations"}, "spec", "buildMetadata")
	m, failure := b.generateAndBuild(tree, ks, u, dirPath, relDir)
	if failure != nil {
		if failure.reported {
			return nil
		}
		return fail(failure.field, failure.message)
	}

	_, hasPostBuild, _ := unstructured.NestedFieldNoCopy(ks.Object, "spec", "postBuild")
	always := false
	if s, _, _ := unstructured.NestedString(ks.Object, "spec", "postBuild", "substituteStrategy"); s == "Always" {
		always = true
	}
	var kube client.Client
	subst := u
	if hasPostBuild {
		kube = b.substitutionClient()
		subst = b.availableSubstituteFrom(ks, u)
	}

	var out []manifest.Object
	for _, res := range m.Resources() {
		if res.GetName() == "" || res.GetKind() == "" || res.GetApiVersion() == "" {
			b.addFinding(manifest.Finding{File: relDir, Object: ref,
				Message: "an object has no apiVersion, kind or name: Flux refuses the whole Kustomization"})
			continue
		}
		origin := b.originOf(dirPath, res.GetAnnotations()[originAnnotation], res.GetKind(), res.GetName())
		origin.Kustomization = key
		if hasPostBuild {
			if _, err := fluxkustomize.SubstituteVariables(ctx, kube, subst, res,
				fluxkustomize.SubstituteWithStrict(true), fluxkustomize.SubstituteWithAlways(always)); err != nil {
				msg := fmt.Sprintf("post-build substitution (applied by %s): %v", ref, err)
				if m := unsetVar.FindStringSubmatch(err.Error()); m != nil {
					msg = fmt.Sprintf("variable %s is not set: add it to %s (or pass it with --var); Flux would substitute an empty string (applied by %s)",
						m[1], path.Join(OverlaysDir, b.env, VarsFile), ref)
				}
				b.addFinding(manifest.Finding{File: origin.File, Line: origin.Line,
					Object: manifest.Ref(res.GetKind(), res.GetNamespace(), res.GetName()), Message: msg})
				// Flux substitutes unset variables with "" unless strict.
				if _, err := fluxkustomize.SubstituteVariables(ctx, kube, subst, res,
					fluxkustomize.SubstituteWithAlways(always)); err != nil {
					continue
				}
			}
		}
		// Through JSON, so that numbers are int64 or float64 as the
		// Kubernetes clients decode them.
		raw, err := res.MarshalJSON()
		u := &unstructured.Unstructured{}
		if err == nil {
			err = u.UnmarshalJSON(raw)
		}
		if err != nil {
			b.addFinding(manifest.Finding{File: origin.File, Line: origin.Line, Object: ref, Message: err.Error()})
			continue
		}
		o := manifest.Object{Unstructured: u, Origin: origin}
		removeAnnotation(o.Unstructured, originAnnotation)
		out = append(out, o)
	}
	if err := b.prepareApply(ks, out); err != nil {
		b.addFinding(manifest.Finding{File: ks.Origin.File, Line: ks.Origin.Line, Object: ref, Message: err.Error()})
		return nil
	}
	return out
}

// prepareApply does to the built objects of ks what kustomize-controller
// v1.9.6 does between its build and its server-side apply
// (internal/controller/kustomization_controller.go): the owner labels
// (ssa.ResourceManager.SetOwnerLabels), the normalisation of native kinds
// through their Go types (fluxcd/pkg/ssa/normalize: empty structs, port
// protocols, a Secret's stringData as data), then spec.commonMetadata
// (ssa/utils.SetCommonMetadata), which wins over the objects' own.
func (b *builder) prepareApply(ks manifest.Object, objs []manifest.Object) error {
	us := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		us[i] = o.Unstructured
	}
	resourceManager := ssa.NewResourceManager(nil, nil, ssa.Owner{Group: kustomizev1.GroupVersion.Group})
	resourceManager.SetOwnerLabels(us, ks.GetName(), ks.GetNamespace())
	if err := normalize.UnstructuredList(us); err != nil {
		return err
	}
	labels, _, _ := unstructured.NestedStringMap(ks.Object, "spec", "commonMetadata", "labels")
	annotations, _, _ := unstructured.NestedStringMap(ks.Object, "spec", "commonMetadata", "annotations")
	if len(labels) > 0 || len(annotations) > 0 {
		ssautil.SetCommonMetadata(us, labels, annotations)
	}
	return nil
}

// buildFailure is why generateAndBuild returned no objects.
type buildFailure struct {
	field, message string
	// reported: the failure was reported as malformed YAML already.
	reported bool
}

// generateAndBuild writes the kustomization that u (the Flux Kustomization
// ks) generates into dirPath, checks its patch targets, builds it and
// restores the directory. The working copy may be shared with the other
// builds of a run, so all of this happens under its lock.
func (b *builder) generateAndBuild(tree *workTree, ks manifest.Object, u unstructured.Unstructured, dirPath, relDir string) (resmap.ResMap, *buildFailure) {
	tree.mu.Lock()
	defer tree.mu.Unlock()
	// Nothing is read before the inputs are known to be local and bounded.
	if b.preflight(tree.dir, dirPath, ks.Ref()) > 0 {
		return nil, &buildFailure{reported: true}
	}
	// What the dir's own kustomization.yaml patches, before the generator
	// adds the Flux Kustomization's patches to it.
	ownKus, ownFile := readKustomizationFile(dirPath)

	gen := fluxkustomize.NewGenerator(tree.dir, u)
	action, err := gen.WriteFile(dirPath, fluxkustomize.WithSaveOriginalKustomization())
	if err != nil {
		return nil, &buildFailure{field: "spec", message: fmt.Sprintf("generate kustomization for %s: %v", relDir, err)}
	}
	defer func() { _ = fluxkustomize.CleanDirectory(dirPath, action) }()
	// The generated kustomization adds the Flux Kustomization's components.
	if b.preflight(tree.dir, dirPath, ks.Ref()) > 0 {
		return nil, &buildFailure{reported: true}
	}

	b.checkPatchTargets(tree, ks, dirPath, ownKus, ownFile)

	m, err := secureBuild(tree.dir, dirPath, tree.customSchema)
	if err != nil {
		if n := b.reportMalformedYAML(tree.dir, dirPath, ks.Ref()); n > 0 {
			return nil, &buildFailure{reported: true}
		}
		return nil, &buildFailure{field: "spec.path", message: fmt.Sprintf("kustomize build of %s failed: %v", relDir, b.scrub(err))}
	}
	return m, nil
}

// checkPatchTargets reports each patch whose target selects nothing, in the
// Flux Kustomization's spec.patches or in the directory's own
// kustomization.yaml. Kustomize applies such a patch to nothing, silently.
func (b *builder) checkPatchTargets(tree *workTree, ks manifest.Object, dirPath string, own *kustypes.Kustomization, ownFile string) {
	type target struct {
		sel                 kustypes.Selector
		file, object, field string
		line                int
	}
	var targets []target
	if own != nil {
		for i, p := range own.Patches {
			if p.Target != nil {
				targets = append(targets, target{sel: *p.Target, file: b.rel(ownFile), field: fmt.Sprintf("patches[%d].target", i)})
			}
		}
	}
	patches, _, _ := unstructured.NestedSlice(ks.Object, "spec", "patches")
	for i, p := range patches {
		m, _ := p.(map[string]any)
		t, ok := m["target"]
		if !ok {
			continue
		}
		var sel kustypes.Selector
		raw, _ := json.Marshal(t)
		if err := json.Unmarshal(raw, &sel); err != nil {
			continue
		}
		targets = append(targets, target{sel: sel, file: ks.Origin.File, line: ks.Origin.Line, object: ks.Ref(), field: fmt.Sprintf("spec.patches[%d].target", i)})
	}
	if len(targets) == 0 {
		return
	}
	// Build the directory without any patch, namespace or name change: the
	// set the selectors are matched against.
	kfile := filepath.Join(dirPath, konfig.DefaultKustomizationFileName())
	generated, err := os.ReadFile(kfile)
	if err != nil {
		return
	}
	var kus kustypes.Kustomization
	if err := sigsyaml.Unmarshal(generated, &kus); err != nil {
		return
	}
	// The deprecated fields are still read by kustomize, so a directory that
	// uses them must have them cleared too.
	//lint:ignore SA1019 clearing, not using, the deprecated patch fields
	kus.Patches, kus.PatchesStrategicMerge, kus.PatchesJson6902 = nil, nil, nil
	kus.Namespace, kus.NamePrefix, kus.NameSuffix = "", "", ""
	bare, err := sigsyaml.Marshal(kus)
	if err != nil {
		return
	}
	if err := os.WriteFile(kfile, bare, 0o644); err != nil {
		return
	}
	m, buildErr := secureBuild(tree.dir, dirPath, tree.customSchema)
	if err := os.WriteFile(kfile, generated, 0o644); err != nil || buildErr != nil {
		return
	}
	for _, t := range targets {
		if matches(m, t.sel) {
			continue
		}
		b.addFinding(manifest.Finding{File: t.file, Line: t.line, Object: t.object, Field: t.field,
			Message: fmt.Sprintf("patch target %s matches no object in %s: the patch would do nothing", describeSelector(t.sel), b.rel(dirPath))})
	}
}

func matches(m resmap.ResMap, sel kustypes.Selector) bool {
	got, err := m.Select(sel)
	return err == nil && len(got) > 0
}

func describeSelector(s kustypes.Selector) string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("group", s.Group)
	add("version", s.Version)
	add("kind", s.Kind)
	add("namespace", s.Namespace)
	add("name", s.Name)
	add("labelSelector", s.LabelSelector)
	add("annotationSelector", s.AnnotationSelector)
	return "{" + strings.Join(parts, ", ") + "}"
}

// readKustomizationFile reads the kustomization file in dir, if any.
func readKustomizationFile(dir string) (*kustypes.Kustomization, string) {
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		p := filepath.Join(dir, n)
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var k kustypes.Kustomization
		if err := sigsyaml.Unmarshal(data, &k); err != nil {
			return nil, p
		}
		return &k, p
	}
	return nil, ""
}

// originOf turns kustomize's origin annotation (a path relative to the
// built directory) into a repository-relative file and the line where the
// object's document starts.
func (b *builder) originOf(dirPath, annotation, kind, name string) manifest.Origin {
	var o struct {
		Path string `json:"path"`
	}
	if annotation == "" || sigsyaml.Unmarshal([]byte(annotation), &o) != nil || o.Path == "" {
		return manifest.Origin{File: b.rel(dirPath)}
	}
	file := b.rel(filepath.Join(dirPath, filepath.FromSlash(o.Path)))
	return manifest.Origin{File: file, Line: b.lineOf(file, kind, name)}
}

// docLine is one YAML document of a file: where it starts, its kind and
// name.
type docLine struct {
	line       int
	kind, name string
}

// lineOf finds the line where the document of kind/name starts in the
// repository file rel: the document with that kind and name, else the only
// document of that kind, else the only document.
func (b *builder) lineOf(rel, kind, name string) int {
	docs, ok := b.lines[rel]
	if !ok {
		docs = indexDocs(filepath.Join(b.repoRoot, filepath.FromSlash(rel)))
		b.lines[rel] = docs
	}
	var sameKind []docLine
	for _, d := range docs {
		if d.kind == kind && d.name == name {
			return d.line
		}
		if d.kind == kind {
			sameKind = append(sameKind, d)
		}
	}
	if len(sameKind) == 1 {
		return sameKind[0].line
	}
	if len(docs) == 1 {
		return docs[0].line
	}
	return 0
}

// indexDocs lists the documents of a YAML file with their first line.
func indexDocs(file string) []docLine {
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var out []docLine
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			return out
		}
		if len(n.Content) == 0 || n.Content[0].Kind != yaml.MappingNode {
			continue
		}
		m := n.Content[0]
		d := docLine{line: m.Line}
		for i := 0; i+1 < len(m.Content); i += 2 {
			switch m.Content[i].Value {
			case "kind":
				d.kind = m.Content[i+1].Value
			case "metadata":
				md := m.Content[i+1]
				for j := 0; j+1 < len(md.Content); j += 2 {
					if md.Content[j].Value == "name" {
						d.name = md.Content[j+1].Value
					}
				}
			}
		}
		out = append(out, d)
	}
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// unsetVar finds the variable of envsubst's strict-mode error.
var unsetVar = regexp.MustCompile(`variable not set \(strict mode\): "([^"]+)"`)

// reportMalformedYAML looks for YAML that does not parse among the files a
// kustomization in dir reads inside the working copy root (see
// walkKustomizeInputs), and reports each with its line. It returns how many
// it found.
func (b *builder) reportMalformedYAML(root, dir, ks string) int {
	found := 0
	walkKustomizeInputs(root, dir, func(file string, data []byte) bool {
		// yaml.v2 reports the line of scanner errors where yaml.v3 is
		// sometimes one line early.
		dec := yamlv2.NewDecoder(strings.NewReader(string(data)))
		for {
			var n any
			err := dec.Decode(&n)
			if err == nil {
				continue
			}
			if errors.Is(err, io.EOF) {
				return true
			}
			line := 0
			if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
				line, _ = strconv.Atoi(m[1])
			}
			msg := strings.TrimPrefix(err.Error(), "yaml: ")
			msg = yamlLine.ReplaceAllString(msg, "")
			msg = strings.TrimLeft(msg, ": ")
			b.addFinding(manifest.Finding{File: b.rel(file), Line: line, Object: ks,
				Message: fmt.Sprintf("malformed YAML, so %s cannot be built: %s", ks, msg)})
			found++
			return false
		}
	}, func(string, []byte, *kustypes.Kustomization) {})
	return found
}

// rel returns p, a path in one of the build's working copies, as a path
// relative to the repository with slashes (a --source folder's files
// through its label).
func (b *builder) rel(p string) string {
	for _, t := range b.allTrees() {
		if r, err := filepath.Rel(t.dir, p); err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			return path.Join(t.label, filepath.ToSlash(r))
		}
	}
	return filepath.ToSlash(p)
}

// allTrees lists the build's working copies, the root's first.
func (b *builder) allTrees() []*workTree {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := []*workTree{b.tree}
	out = append(out, valuesOf(b.trees)...)
	for _, t := range b.generated {
		if t != nil {
			out = append(out, t)
		}
	}
	return out
}

// scrub removes the build's temporary directories from an error message.
func (b *builder) scrub(err error) string {
	msg := err.Error()
	for _, t := range b.allTrees() {
		prefix := ""
		if t.label != "" {
			prefix = t.label + "/"
		}
		msg = strings.ReplaceAll(msg, t.dir+string(filepath.Separator), prefix)
	}
	return msg
}

func removeAnnotation(u *unstructured.Unstructured, key string) {
	a := u.GetAnnotations()
	if _, ok := a[key]; !ok {
		return
	}
	delete(a, key)
	if len(a) == 0 {
		unstructured.RemoveNestedField(u.Object, "metadata", "annotations")
		return
	}
	u.SetAnnotations(a)
}
