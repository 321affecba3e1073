package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	sourcev1beta2 "github.com/fluxcd/source-controller/api/v1beta2"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuralcel "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	apiservercel "k8s.io/apiserver/pkg/apis/cel"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	kjson "sigs.k8s.io/json"

	"github.com/leynos/gitops-local/bootstrap/flux"
	"github.com/leynos/gitops-local/bootstrap/manifest"
	"github.com/leynos/gitops-local/bootstrap/scope"
)

// builtinScheme holds the Go types of the APIs a Kubernetes API server
// serves itself: client-go's scheme plus CustomResourceDefinition. It is
// built here rather than using client-go's shared scheme, which other
// libraries add their own types to.
var builtinScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(apiextensionsv1.AddToScheme(s))
	return s
}()

// fluxScheme holds the Go API types of the pinned Flux controllers, so that
// Flux objects can be decoded strictly into them.
var fluxScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(sourcev1.AddToScheme(s))
	utilruntime.Must(sourcev1beta2.AddToScheme(s))
	utilruntime.Must(kustomizev1.AddToScheme(s))
	utilruntime.Must(helmv2.AddToScheme(s))
	return s
}()

// crdVersion is one served version of a CRD, compiled for validation.
type crdVersion struct {
	crd        string // the CRD's name, for messages
	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaValidator
	// cel evaluates the schema's x-kubernetes-validations rules; nil when
	// it has none. Compiling the rules is most of the cost of compiling a
	// CRD and few of the CRDs an environment installs have objects to
	// check, so they are compiled on first use (see celValidator).
	celOnce sync.Once
	cel     *structuralcel.Validator
}

// celValidator compiles the version's CEL rules once, on first use.
func (cv *crdVersion) celValidator() *structuralcel.Validator {
	cv.celOnce.Do(func() {
		if cv.structural != nil {
			cv.cel = structuralcel.NewValidator(cv.structural, true, apiservercel.PerCallLimit)
		}
	})
	return cv.cel
}

// compiledCRD is every version of one CRD, compiled once and shared.
type compiledCRD struct {
	group    string
	kind     string
	scope    string                 // spec.scope
	versions map[string]*crdVersion // served versions only
	err      error                  // the CRD's schema could not be compiled
}

// schemas compiles CRD schemas and caches them by content, so that the CRDs
// environments share are compiled once.
type schemas struct {
	mu sync.Mutex
	// cache holds the compiled CRDs by name, each with a copy of the spec
	// it was compiled from.
	cache map[string][]cachedCRD
	flux  []*compiledCRD
}

type cachedCRD struct {
	spec *apiextensionsv1.CustomResourceDefinitionSpec
	c    *compiledCRD
}

func newSchemas() (*schemas, error) {
	s := &schemas{cache: map[string][]cachedCRD{}}
	crds, err := loadFluxCRDs()
	if err != nil {
		return nil, err
	}
	for _, crd := range crds {
		c := s.compile(crd)
		if c.err != nil {
			return nil, fmt.Errorf("compiling embedded Flux CRD %s: %w", crd.Name, c.err)
		}
		s.flux = append(s.flux, c)
	}
	return s, nil
}

// loadFluxCRDs decodes the Flux CRDs of the embedded install manifests
// (bootstrap/flux), the one copy of them the tool carries.
func loadFluxCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	objs, err := flux.Manifests()
	if err != nil {
		return nil, err
	}
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, o := range objs {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, crd); err != nil {
			return nil, fmt.Errorf("decoding embedded Flux CRD %s: %w", o.GetName(), err)
		}
		out = append(out, crd)
	}
	return out, nil
}

// compile returns the compiled form of crd, from the cache when an equal
// CRD was compiled before. A CRD whose schema does not compile is returned
// with err set, so that it becomes a finding rather than a failure.
func (s *schemas) compile(crd *apiextensionsv1.CustomResourceDefinition) *compiledCRD {
	s.mu.Lock()
	cached := s.cache[crd.Name]
	s.mu.Unlock()
	for _, e := range cached {
		if reflect.DeepEqual(*e.spec, crd.Spec) {
			return e.c
		}
	}
	c := &compiledCRD{group: crd.Spec.Group, kind: crd.Spec.Names.Kind, scope: string(crd.Spec.Scope), versions: map[string]*crdVersion{}}
	for _, v := range crd.Spec.Versions {
		if !v.Served {
			continue
		}
		cv := &crdVersion{crd: crd.Name}
		if v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
			internal := &apiextensions.JSONSchemaProps{}
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, internal, nil); err != nil {
				c.err = fmt.Errorf("converting schema of version %s: %w", v.Name, err)
				break
			}
			st, err := structuralschema.NewStructural(internal)
			if err != nil {
				c.err = fmt.Errorf("schema of version %s is not structural: %w", v.Name, err)
				break
			}
			val, _, err := apiservervalidation.NewSchemaValidator(internal)
			if err != nil {
				c.err = fmt.Errorf("schema of version %s: %w", v.Name, err)
				break
			}
			cv.structural, cv.validator = st, val
		}
		c.versions[v.Name] = cv
	}
	s.mu.Lock()
	s.cache[crd.Name] = append(s.cache[crd.Name], cachedCRD{spec: crd.Spec.DeepCopy(), c: c})
	s.mu.Unlock()
	return c
}

// schemaIndex finds the schema of a group/version/kind in one environment.
type schemaIndex struct {
	byGVK map[schema.GroupVersionKind]*crdVersion
	// byGK lists the served versions of every group/kind, for messages.
	byGK map[schema.GroupKind][]string
	// scopes knows the built-in kinds and those of the indexed CRDs.
	scopes scope.Scopes
}

// index builds the lookup for an environment's CRDs plus the Flux CRDs. The
// environment's own CRDs win over the embedded Flux ones. CRDs that do not
// compile are returned as findings.
func (s *schemas) index(crds []*apiextensionsv1.CustomResourceDefinition, memo *runMemo) (*schemaIndex, []manifest.Finding) {
	ix := &schemaIndex{byGVK: map[schema.GroupVersionKind]*crdVersion{}, byGK: map[schema.GroupKind][]string{}}
	var findings []manifest.Finding
	add := func(c *compiledCRD) {
		gk := schema.GroupKind{Group: c.group, Kind: c.kind}
		if _, seen := ix.byGK[gk]; seen {
			return
		}
		vs := make([]string, 0, len(c.versions))
		for v, cv := range c.versions {
			ix.byGVK[gk.WithVersion(v)] = cv
			vs = append(vs, v)
		}
		sort.Strings(vs)
		ix.byGK[gk] = vs
		ix.scopes.AddCRD(c.group, c.kind, c.scope)
	}
	for _, crd := range crds {
		if crd == nil {
			continue
		}
		c := memo.compile(s, crd)
		if c.err != nil {
			findings = append(findings, manifest.Finding{
				Object:  manifest.Ref("CustomResourceDefinition", "", crd.Name),
				Field:   "spec.versions",
				Message: c.err.Error(),
			})
			continue
		}
		add(c)
	}
	for _, c := range s.flux {
		add(c)
	}
	return ix, findings
}

// isBuiltin reports whether gvk is a Kubernetes built-in API type.
func isBuiltin(gvk schema.GroupVersionKind) bool {
	return builtinScheme.Recognizes(gvk)
}

// builtinGroups are the API groups Kubernetes serves itself; an unknown
// version or kind in one of them is not a missing CRD.
func isBuiltinGroup(group string) bool {
	for _, gv := range builtinScheme.PrioritizedVersionsAllGroups() {
		if gv.Group == group {
			return true
		}
	}
	return false
}

// checkSchema validates one object against the schema of its kind and
// returns every problem found.
func checkSchema(ctx context.Context, env string, ix *schemaIndex, obj manifest.Object, memo *runMemo) []manifest.Finding {
	fb := finder(env, obj)
	gvk := obj.GroupVersionKind()
	if gvk.Kind == "" || obj.GetAPIVersion() == "" {
		return []manifest.Finding{fb("", "object has no apiVersion or kind")}
	}
	var out []manifest.Finding
	out = append(out, checkMetadata(fb, obj)...)
	switch {
	case isBuiltin(gvk):
		out = append(out, strictDecode(fb, memo, "builtin", builtinScheme, obj)...)
		out = append(out, checkBuiltinEnums(fb, obj)...)
	case ix.byGVK[gvk] != nil:
		cv := ix.byGVK[gvk]
		out = append(out, validateCR(ctx, fb, cv, obj)...)
		if fluxScheme.Recognizes(gvk) {
			out = append(out, strictDecode(fb, memo, "flux", fluxScheme, obj)...)
		}
	default:
		msg := fmt.Sprintf("no CRD for group %q version %q kind %q", gvk.Group, gvk.Version, gvk.Kind)
		if vs := ix.byGK[gvk.GroupKind()]; len(vs) > 0 {
			msg += fmt.Sprintf(" (served versions: %s)", strings.Join(vs, ", "))
		} else if isBuiltinGroup(gvk.Group) {
			msg = fmt.Sprintf("no built-in API for group %q version %q kind %q", gvk.Group, gvk.Version, gvk.Kind)
		}
		out = append(out, fb("apiVersion", msg))
	}
	return dedupeFields(out)
}

// dedupeFields keeps the first finding for each field: the schema and the
// strict decoder often report the same unknown or mistyped field.
func dedupeFields(fs []manifest.Finding) []manifest.Finding {
	seen := map[string]bool{}
	out := fs[:0]
	for _, f := range fs {
		if f.Field != "" && seen[f.Field] {
			continue
		}
		seen[f.Field] = true
		out = append(out, f)
	}
	return out
}

// validateCR checks a custom resource against its CRD's structural schema as
// the API server would on create: unknown fields (what it would prune), then,
// after applying the schema's defaults, types, enums, required fields,
// patterns and bounds, then the CRD's CEL validation rules.
func validateCR(ctx context.Context, fb findingFunc, cv *crdVersion, obj manifest.Object) []manifest.Finding {
	if cv.structural == nil {
		return nil
	}
	var out []manifest.Finding
	// A copy decoded as the API server decodes JSON: whole numbers as
	// int64, which CEL rules and integer schemas expect.
	data, err := json.Marshal(obj.Object)
	if err != nil {
		return []manifest.Finding{fb("", fmt.Sprintf("cannot encode object: %v", err))}
	}
	var pruned map[string]any
	if err := utiljson.Unmarshal(data, &pruned); err != nil {
		return []manifest.Finding{fb("", fmt.Sprintf("cannot decode object: %v", err))}
	}
	unknown := pruning.PruneWithOptions(pruned, cv.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	sort.Strings(unknown)
	for _, p := range unknown {
		out = append(out, fb(p, fmt.Sprintf("unknown field %q (not in the schema of CRD %s)", lastSegment(p), cv.crd)))
	}
	// The API server defaults a custom resource before validating it, so a
	// required field with a default may be left out.
	structuraldefaulting.Default(pruned, cv.structural)
	errs := apiservervalidation.ValidateCustomResource(nil, pruned, cv.validator)
	if cel := cv.celValidator(); cel != nil && len(errs) == 0 {
		// Like the API server, evaluate the CRD's CEL rules only on an
		// object that passes the schema.
		celErrs, _ := cel.Validate(ctx, nil, cv.structural, pruned, nil, apiservercel.RuntimeCELCostBudget)
		errs = append(errs, celErrs...)
	}
	for _, e := range errs {
		out = append(out, fieldErrorFinding(fb, e))
	}
	return out
}

// fieldErrorFinding turns an API server field error into a finding.
func fieldErrorFinding(fb findingFunc, e *field.Error) manifest.Finding {
	return fb(e.Field, e.ErrorBody())
}

// lastSegment returns the last element of a dotted field path.
func lastSegment(p string) string {
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// typeErrorRE reads the field path out of encoding/json's type errors:
// "json: cannot unmarshal string into Go struct field Foo.spec.replicas of type int32".
var typeErrorRE = regexp.MustCompile(`cannot unmarshal (.+) into Go struct field [^.\s]+\.(\S+) of type (\S+)`)

// strictDecode decodes obj into its Go API type, reporting unknown and
// duplicate fields and values of the wrong type with their paths. The
// result depends only on the object, so memo shares it between the
// environments of a run that deploy the same object; schemeName names s
// there.
func strictDecode(fb findingFunc, memo *runMemo, schemeName string, s *runtime.Scheme, obj manifest.Object) []manifest.Finding {
	fields := memo.strictDecode(schemeName, obj, func() []fieldMessage { return strictDecodeFields(s, obj) })
	out := make([]manifest.Finding, 0, len(fields))
	for _, f := range fields {
		out = append(out, fb(f.field, f.message))
	}
	return out
}

// strictDecodeFields is strictDecode's work, its findings without the
// object they are about.
func strictDecodeFields(s *runtime.Scheme, obj manifest.Object) []fieldMessage {
	gvk := obj.GroupVersionKind()
	typed, err := s.New(gvk)
	if err != nil {
		return []fieldMessage{{"apiVersion", fmt.Sprintf("no Go type for %s: %v", gvk, err)}}
	}
	data, err := json.Marshal(obj.Object)
	if err != nil {
		return []fieldMessage{{"", fmt.Sprintf("cannot encode object: %v", err)}}
	}
	strictErrs, err := kjson.UnmarshalStrict(data, typed)
	var out []fieldMessage
	if err != nil {
		if m := typeErrorRE.FindStringSubmatch(err.Error()); m != nil {
			out = append(out, fieldMessage{m[2], fmt.Sprintf("wrong type: got %s, want %s", m[1], m[3])})
		} else {
			out = append(out, fieldMessage{"", fmt.Sprintf("cannot decode as %s: %v", gvk.Kind, err)})
		}
	}
	for _, se := range strictErrs {
		path := ""
		var fe kjson.FieldError
		if ok := asFieldError(se, &fe); ok {
			path = fe.FieldPath()
		}
		msg := se.Error()
		if strings.HasPrefix(msg, "unknown field") {
			msg = fmt.Sprintf("unknown field %q (not in %s %s)", lastSegment(path), gvk.GroupVersion(), gvk.Kind)
		}
		out = append(out, fieldMessage{path, msg})
	}
	return out
}

func asFieldError(err error, fe *kjson.FieldError) bool {
	f, ok := err.(kjson.FieldError)
	if ok {
		*fe = f
	}
	return ok
}

// findingFunc makes a finding about one object's field.
type findingFunc func(field, message string) manifest.Finding

// finder returns a findingFunc for obj in env.
func finder(env string, obj manifest.Object) findingFunc {
	return func(field, message string) manifest.Finding {
		return manifest.Finding{
			Environment: env,
			File:        obj.Origin.File,
			Line:        obj.Origin.Line,
			Object:      obj.Ref(),
			Field:       field,
			Message:     message,
		}
	}
}

// compactJSON is used by tests and messages to show a value briefly.
func compactJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(bytes.TrimSpace(data))
}
