package validate

import (
	"sync"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/leynos/gitops-local/bootstrap/manifest"
)

// runMemo shares, within one Validate, the work whose result depends only
// on an object's content: environments deploy mostly the same objects, the
// platform charts' CRDs above all, which are large. It is safe for
// concurrent use, and lives only as long as the run, while the objects it
// refers to are not modified.
type runMemo struct {
	mu sync.Mutex
	// compiled is the compiled form of each CRD, by identity: the builds of
	// one run share the CRDs they have in common (see gitops.RenderCache).
	compiled map[*apiextensionsv1.CustomResourceDefinition]*compiledCRD
	// decoded holds strict-decoding results by scheme and object ID, each
	// with the object it was computed for.
	decoded map[string][]decodedEntry
}

type decodedEntry struct {
	obj    map[string]any
	fields []fieldMessage
}

// fieldMessage is a finding about one object, without the object.
type fieldMessage struct{ field, message string }

func newRunMemo() *runMemo {
	return &runMemo{
		compiled: map[*apiextensionsv1.CustomResourceDefinition]*compiledCRD{},
		decoded:  map[string][]decodedEntry{},
	}
}

// compile is schemas.compile, once per CRD of the run.
func (m *runMemo) compile(s *schemas, crd *apiextensionsv1.CustomResourceDefinition) *compiledCRD {
	if m == nil {
		return s.compile(crd)
	}
	m.mu.Lock()
	c, ok := m.compiled[crd]
	m.mu.Unlock()
	if ok {
		return c
	}
	c = s.compile(crd)
	m.mu.Lock()
	m.compiled[crd] = c
	m.mu.Unlock()
	return c
}

// strictDecode is strictDecodeFields, once per distinct object of the run.
func (m *runMemo) strictDecode(scheme string, obj manifest.Object, decode func() []fieldMessage) []fieldMessage {
	if m == nil {
		return decode()
	}
	key := scheme + "|" + obj.ID()
	m.mu.Lock()
	entries := m.decoded[key]
	m.mu.Unlock()
	for _, e := range entries {
		if manifest.EqualJSON(e.obj, obj.Object) {
			return e.fields
		}
	}
	fields := decode()
	m.mu.Lock()
	m.decoded[key] = append(m.decoded[key], decodedEntry{obj: obj.Object, fields: fields})
	m.mu.Unlock()
	return fields
}
