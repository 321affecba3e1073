package validate

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/leynos/gitops-local/bootstrap/manifest"
)

// API groups of the kinds whose references are checked.
const (
	sourceGroup    = "source.toolkit.fluxcd.io"
	kustomizeGroup = "kustomize.toolkit.fluxcd.io"
	helmGroup      = "helm.toolkit.fluxcd.io"
	esoGroup       = "external-secrets.io"
	notifyGroup    = "notification.toolkit.fluxcd.io"
	imageGroup     = "image.toolkit.fluxcd.io"
	watcherGroup   = "source.extensions.fluxcd.io"
	cnpgGroup      = "postgresql.cnpg.io"
	valkeyGroup    = "hyperspike.io"
)

// LocalEnvironment is the environment whose workloads may use Secrets that
// the cluster does not get from Git: `gitops-local up` creates them.
const LocalEnvironment = "local"

// wellKnownNamespaces exist in every cluster the environments deploy to:
// Kubernetes creates the first four and Flux is installed in flux-system
// before any Kustomization is applied.
var wellKnownNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease", "flux-system"}

// BootstrapObjects are created when a cluster is bootstrapped, not from
// Git, so no environment declares them: the root source and Kustomization
// every environment's Kustomizations use, and the cluster-vars ConfigMap
// their post-build substitutions read. References to them resolve unless the
// environment declares them itself.
var BootstrapObjects = []struct{ Group, Kind, Namespace, Name string }{
	{sourceGroup, "OCIRepository", "flux-system", "flux-system"},
	{kustomizeGroup, "Kustomization", "flux-system", "flux-system"},
	{"", "ConfigMap", "flux-system", "cluster-vars"},
}

// key identifies an object like manifest.Object.ID.
func key(group, kind, namespace, name string) string {
	return group + "/" + kind + "/" + namespace + "/" + name
}

// envIndex is what the reference checks look objects up in.
type envIndex struct {
	env        string
	objects    map[string]manifest.Object
	namespaces map[string]bool
	// secrets are the namespace/name of Secrets that something in the
	// environment creates at run time: ExternalSecret targets and the
	// Secrets the CloudNativePG and Valkey operators make for their
	// clusters.
	secrets map[string]bool
	schemas *schemaIndex
	// bootstrap are the keys of BootstrapObjects and of the objects only
	// the cluster has (the build's fixtures).
	bootstrap map[string]bool
}

func newEnvIndex(env string, objs []manifest.Object, schemas *schemaIndex, cluster []manifest.Object) *envIndex {
	ix := &envIndex{env: env, objects: map[string]manifest.Object{}, namespaces: map[string]bool{}, secrets: map[string]bool{}, schemas: schemas}
	for _, ns := range wellKnownNamespaces {
		ix.namespaces[ns] = true
	}
	ix.bootstrap = map[string]bool{}
	for _, b := range BootstrapObjects {
		ix.bootstrap[key(b.Group, b.Kind, b.Namespace, b.Name)] = true
	}
	for _, o := range cluster {
		ix.bootstrap[o.ID()] = true
		if gvk := o.GroupVersionKind(); gvk.Group == "" && gvk.Kind == "Namespace" {
			ix.namespaces[o.GetName()] = true
		}
	}
	for _, o := range objs {
		if o.Unstructured == nil {
			continue
		}
		if _, dup := ix.objects[o.ID()]; !dup {
			ix.objects[o.ID()] = o
		}
		gvk := o.GroupVersionKind()
		ns := o.GetNamespace()
		switch {
		case gvk.Group == "" && gvk.Kind == "Namespace":
			ix.namespaces[o.GetName()] = true
		case gvk.Group == kustomizeGroup && gvk.Kind == "Kustomization":
			if t, _, _ := unstructured.NestedString(o.Object, "spec", "targetNamespace"); t != "" {
				ix.namespaces[t] = true
			}
		case gvk.Group == helmGroup && gvk.Kind == "HelmRelease":
			if create, _, _ := unstructured.NestedBool(o.Object, "spec", "install", "createNamespace"); create {
				t, _, _ := unstructured.NestedString(o.Object, "spec", "targetNamespace")
				if t == "" {
					t = ns
				}
				ix.namespaces[t] = true
			}
		case gvk.Group == watcherGroup && gvk.Kind == "ArtifactGenerator":
			// source-watcher creates an ExternalArtifact for each artifact
			// a generator declares, in the generator's namespace.
			arts, _, _ := unstructured.NestedSlice(o.Object, "spec", "artifacts")
			for _, a := range arts {
				if name, _ := a.(map[string]any)["name"].(string); name != "" {
					ix.bootstrap[key(sourceGroup, "ExternalArtifact", ns, name)] = true
				}
			}
		case gvk.Group == esoGroup && gvk.Kind == "ExternalSecret":
			t, _, _ := unstructured.NestedString(o.Object, "spec", "target", "name")
			if t == "" {
				t = o.GetName()
			}
			ix.secrets[ns+"/"+t] = true
		case gvk.Group == cnpgGroup && gvk.Kind == "Cluster":
			for _, suffix := range []string{"-app", "-superuser", "-ca", "-server", "-replication"} {
				ix.secrets[ns+"/"+o.GetName()+suffix] = true
			}
		case gvk.Group == valkeyGroup && gvk.Kind == "Valkey":
			ix.secrets[ns+"/"+o.GetName()] = true
		}
	}
	return ix
}

func (ix *envIndex) has(group, kind, namespace, name string) bool {
	k := key(group, kind, namespace, name)
	_, ok := ix.objects[k]
	return ok || ix.bootstrap[k]
}

// secretExists reports whether a Secret is declared, or created at run time
// by something declared in the environment. In the local environment every
// Secret a workload needs is assumed to be created by `gitops-local up`.
func (ix *envIndex) secretExists(namespace, name string) bool {
	return ix.has("", "Secret", namespace, name) || ix.secrets[namespace+"/"+name] || ix.env == LocalEnvironment
}

// namespaced reports whether obj's kind is namespaced, and whether that is
// known at all (scope.Scopes: the built-in kinds and the environment's and
// Flux's CRDs).
func (ix *envIndex) namespaced(obj manifest.Object) (namespaced, known bool) {
	return ix.schemas.scopes.Namespaced(obj.GroupVersionKind())
}

// checkRefs checks that everything obj refers to exists in the environment.
func checkRefs(ix *envIndex, obj manifest.Object) []manifest.Finding {
	fb := finder(ix.env, obj)
	var out []manifest.Finding
	missing := func(field, kind, ns, name, why string) {
		msg := fmt.Sprintf("%s %s does not exist in environment %q", kind, manifest.Ref("", ns, name)[1:], ix.env)
		if why != "" {
			msg += ": " + why
		}
		out = append(out, fb(field, msg))
	}
	ns := obj.GetNamespace()
	gvk := obj.GroupVersionKind()

	if namespaced, known := ix.namespaced(obj); known && namespaced && ns != "" && !ix.namespaces[ns] {
		out = append(out, fb("metadata.namespace", fmt.Sprintf("namespace %q does not exist in environment %q: no Namespace object, HelmRelease install.createNamespace or Kustomization targetNamespace creates it", ns, ix.env)))
	}

	// ref reads a {kind, name, namespace} reference at path.
	ref := func(path ...string) (kind, name, namespace string, found bool) {
		m, found, _ := unstructured.NestedMap(obj.Object, path...)
		if !found {
			return "", "", "", false
		}
		kind, _ = m["kind"].(string)
		name, _ = m["name"].(string)
		namespace, _ = m["namespace"].(string)
		if namespace == "" {
			namespace = ns
		}
		return kind, name, namespace, true
	}
	dependsOn := func(kind string) {
		deps, _, _ := unstructured.NestedSlice(obj.Object, "spec", "dependsOn")
		for i, d := range deps {
			dm, _ := d.(map[string]any)
			name, _ := dm["name"].(string)
			dns, _ := dm["namespace"].(string)
			if dns == "" {
				dns = ns
			}
			if !ix.has(gvk.Group, kind, dns, name) {
				missing(fmt.Sprintf("spec.dependsOn[%d]", i), kind, dns, name, "")
			}
		}
	}
	sourceRef := func(field string, allowed []string, path ...string) {
		kind, name, rns, found := ref(path...)
		if !found {
			return
		}
		if !contains(allowed, kind) {
			out = append(out, fb(field+".kind", fmt.Sprintf("Unsupported value: %q: supported values: %s", kind, quoteAll(allowed))))
			return
		}
		if !ix.has(sourceGroup, kind, rns, name) {
			missing(field, kind, rns, name, "")
		}
	}
	fromRefs := func(path string, list []any) {
		for i, item := range list {
			m, _ := item.(map[string]any)
			kind, _ := m["kind"].(string)
			name, _ := m["name"].(string)
			if optional, _ := m["optional"].(bool); optional {
				continue
			}
			field := fmt.Sprintf("%s[%d]", path, i)
			switch kind {
			case "ConfigMap":
				if !ix.has("", "ConfigMap", ns, name) {
					missing(field, kind, ns, name, "set optional: true if it may be absent")
				}
			case "Secret":
				if !ix.has("", "Secret", ns, name) && !ix.secrets[ns+"/"+name] {
					missing(field, kind, ns, name, "no Secret or ExternalSecret creates it; set optional: true if it may be absent")
				}
			}
		}
	}

	switch {
	case gvk.Group == kustomizeGroup && gvk.Kind == "Kustomization":
		sourceRef("spec.sourceRef", []string{"Bucket", "ExternalArtifact", "GitRepository", "OCIRepository"}, "spec", "sourceRef")
		dependsOn("Kustomization")
		// spec.postBuild.substituteFrom: the build reports what it cannot
		// substitute from (gitops.Build).
	case gvk.Group == helmGroup && gvk.Kind == "HelmRelease":
		_, hasChart, _ := unstructured.NestedMap(obj.Object, "spec", "chart")
		_, hasChartRef, _ := unstructured.NestedMap(obj.Object, "spec", "chartRef")
		if hasChart == hasChartRef {
			out = append(out, fb("spec", "Invalid value: exactly one of spec.chart or spec.chartRef must be set"))
		}
		sourceRef("spec.chart.spec.sourceRef", []string{"Bucket", "GitRepository", "HelmRepository"}, "spec", "chart", "spec", "sourceRef")
		sourceRef("spec.chartRef", []string{"ExternalArtifact", "HelmChart", "OCIRepository"}, "spec", "chartRef")
		dependsOn("HelmRelease")
		vf, _, _ := unstructured.NestedSlice(obj.Object, "spec", "valuesFrom")
		fromRefs("spec.valuesFrom", vf)
	case gvk.Group == sourceGroup && gvk.Kind == "HelmChart":
		sourceRef("spec.sourceRef", []string{"Bucket", "GitRepository", "HelmRepository"}, "spec", "sourceRef")
	case gvk.Group == esoGroup && gvk.Kind == "ExternalSecret":
		kind, name, _, found := ref("spec", "secretStoreRef")
		if found {
			if kind == "" {
				kind = "SecretStore"
			}
			storeNS := ns
			if kind == "ClusterSecretStore" {
				storeNS = ""
			}
			if !ix.has(esoGroup, kind, storeNS, name) {
				missing("spec.secretStoreRef", kind, storeNS, name, "")
			}
		}
	case gvk.Group == "networking.k8s.io" && gvk.Kind == "Ingress":
		rules, _, _ := unstructured.NestedSlice(obj.Object, "spec", "rules")
		for i, r := range rules {
			rule, _ := r.(map[string]any)
			paths, _, _ := unstructured.NestedSlice(rule, "http", "paths")
			for j, p := range paths {
				pm, _ := p.(map[string]any)
				svc, _, _ := unstructured.NestedString(pm, "backend", "service", "name")
				if svc != "" && !ix.has("", "Service", ns, svc) {
					missing(fmt.Sprintf("spec.rules[%d].http.paths[%d].backend.service.name", i, j), "Service", ns, svc, "")
				}
			}
		}
	}

	checkFluxExtensionRefs(ix, obj, missing)

	podSpec, podPath, cs := podContainers(obj)
	if sa, _ := podSpec["serviceAccountName"].(string); sa != "" && sa != "default" && !ix.has("", "ServiceAccount", ns, sa) {
		missing(podPath+".serviceAccountName", "ServiceAccount", ns, sa, "")
	}
	for _, c := range cs {
		envFrom, _ := c.spec["envFrom"].([]any)
		for i, e := range envFrom {
			em, _ := e.(map[string]any)
			field := fmt.Sprintf("%s.envFrom[%d]", c.path, i)
			if sr, ok := em["secretRef"].(map[string]any); ok {
				name, _ := sr["name"].(string)
				if optional, _ := sr["optional"].(bool); !optional && !ix.secretExists(ns, name) {
					missing(field+".secretRef", "Secret", ns, name, "no Secret or ExternalSecret creates it")
				}
			}
			if cr, ok := em["configMapRef"].(map[string]any); ok {
				name, _ := cr["name"].(string)
				if optional, _ := cr["optional"].(bool); !optional && !ix.has("", "ConfigMap", ns, name) {
					missing(field+".configMapRef", "ConfigMap", ns, name, "")
				}
			}
		}
	}
	return out
}

// fluxKindGroups are the API groups of the Flux kinds an Alert or a
// Receiver may name (notification-controller's CRDs enumerate them).
var fluxKindGroups = map[string]string{
	"Bucket": sourceGroup, "GitRepository": sourceGroup, "HelmChart": sourceGroup, "HelmRepository": sourceGroup,
	"OCIRepository": sourceGroup, "ExternalArtifact": sourceGroup,
	"Kustomization": kustomizeGroup, "HelmRelease": helmGroup,
	"ImageRepository": imageGroup, "ImagePolicy": imageGroup, "ImageUpdateAutomation": imageGroup,
	"ArtifactGenerator": watcherGroup,
}

// checkFluxExtensionRefs checks the references of the notification, image
// and source-watcher kinds.
func checkFluxExtensionRefs(ix *envIndex, obj manifest.Object, missing func(field, kind, ns, name, why string)) {
	ns := obj.GetNamespace()
	gvk := obj.GroupVersionKind()
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	// objects checks a list of {kind, name, namespace} references to Flux
	// objects; name "*" matches any object of the kind.
	objects := func(path ...string) {
		list, _, _ := unstructured.NestedSlice(obj.Object, path...)
		for i, item := range list {
			m, _ := item.(map[string]any)
			kind, name, rns := str(m, "kind"), str(m, "name"), str(m, "namespace")
			if rns == "" {
				rns = ns
			}
			group, known := fluxKindGroups[kind]
			if !known || name == "" || name == "*" {
				continue // the schema reports an unknown kind
			}
			if !ix.has(group, kind, rns, name) {
				missing(fmt.Sprintf("%s[%d]", strings.Join(path, "."), i), kind, rns, name, "")
			}
		}
	}
	// named checks a {name, namespace} reference to group/kind at path.
	named := func(group, kind string, path ...string) {
		m, found, _ := unstructured.NestedMap(obj.Object, path...)
		if !found {
			return
		}
		name, rns := str(m, "name"), str(m, "namespace")
		if rns == "" {
			rns = ns
		}
		if name != "" && !ix.has(group, kind, rns, name) {
			missing(strings.Join(path, "."), kind, rns, name, "")
		}
	}
	secrets := func(fields ...string) {
		for _, f := range fields {
			name, _, _ := unstructured.NestedString(obj.Object, "spec", f, "name")
			if name != "" && !ix.secretExists(ns, name) {
				missing("spec."+f, "Secret", ns, name, "no Secret or ExternalSecret creates it (give it with --fixtures if only the cluster has it)")
			}
		}
	}
	switch {
	case gvk.Group == notifyGroup && gvk.Kind == "Alert":
		named(notifyGroup, "Provider", "spec", "providerRef")
		objects("spec", "eventSources")
	case gvk.Group == notifyGroup && gvk.Kind == "Receiver":
		objects("spec", "resources")
		secrets("secretRef")
	case gvk.Group == notifyGroup && gvk.Kind == "Provider":
		secrets("secretRef", "certSecretRef", "proxySecretRef")
	case gvk.Group == imageGroup && gvk.Kind == "ImagePolicy":
		named(imageGroup, "ImageRepository", "spec", "imageRepositoryRef")
	case gvk.Group == imageGroup && gvk.Kind == "ImageRepository":
		secrets("secretRef", "certSecretRef", "proxySecretRef")
		if sa, _, _ := unstructured.NestedString(obj.Object, "spec", "serviceAccountName"); sa != "" && sa != "default" && !ix.has("", "ServiceAccount", ns, sa) {
			missing("spec.serviceAccountName", "ServiceAccount", ns, sa, "")
		}
	case gvk.Group == imageGroup && gvk.Kind == "ImageUpdateAutomation":
		kind, _, _ := unstructured.NestedString(obj.Object, "spec", "sourceRef", "kind")
		if kind == "GitRepository" {
			named(sourceGroup, kind, "spec", "sourceRef")
		}
	case gvk.Group == watcherGroup && gvk.Kind == "ArtifactGenerator":
		objects("spec", "sources")
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// checkDuplicates reports every object declared more than once: the same
// group, kind, namespace and name, which Kubernetes would see as one.
func checkDuplicates(env string, objs []manifest.Object) []manifest.Finding {
	first := map[string]manifest.Object{}
	var out []manifest.Finding
	for _, o := range objs {
		if o.Unstructured == nil {
			continue
		}
		id := o.ID()
		prev, seen := first[id]
		if !seen {
			first[id] = o
			continue
		}
		where := prev.Origin.File
		if prev.Origin.Line > 0 {
			where = fmt.Sprintf("%s:%d", where, prev.Origin.Line)
		}
		out = append(out, finder(env, o)("metadata.name", fmt.Sprintf("duplicate object: %s is also declared in %s", o.Ref(), where)))
	}
	return out
}

// checkCycles reports every dependsOn cycle among Kustomizations and among
// HelmReleases, once per cycle, on the cycle's first object.
func checkCycles(env string, objs []manifest.Object) []manifest.Finding {
	var out []manifest.Finding
	for _, kind := range []struct{ group, kind string }{{kustomizeGroup, "Kustomization"}, {helmGroup, "HelmRelease"}} {
		nodes := map[string]manifest.Object{}
		edges := map[string][]string{}
		edgeIndex := map[[2]string]int{}
		for _, o := range objs {
			if o.Unstructured == nil {
				continue
			}
			gvk := o.GroupVersionKind()
			if gvk.Group != kind.group || gvk.Kind != kind.kind {
				continue
			}
			id := o.GetNamespace() + "/" + o.GetName()
			if _, dup := nodes[id]; dup {
				continue
			}
			nodes[id] = o
			deps, _, _ := unstructured.NestedSlice(o.Object, "spec", "dependsOn")
			for i, d := range deps {
				dm, _ := d.(map[string]any)
				name, _ := dm["name"].(string)
				ns, _ := dm["namespace"].(string)
				if ns == "" {
					ns = o.GetNamespace()
				}
				to := ns + "/" + name
				edges[id] = append(edges[id], to)
				if _, ok := edgeIndex[[2]string{id, to}]; !ok {
					edgeIndex[[2]string{id, to}] = i
				}
			}
		}
		for _, cycle := range findCycles(nodes, edges) {
			o := nodes[cycle[0]]
			names := make([]string, len(cycle)+1)
			copy(names, cycle)
			names[len(cycle)] = cycle[0]
			next := cycle[0]
			if len(cycle) > 1 {
				next = cycle[1]
			}
			field := fmt.Sprintf("spec.dependsOn[%d]", edgeIndex[[2]string{cycle[0], next}])
			out = append(out, finder(env, o)(field, fmt.Sprintf("dependsOn cycle: %s", strings.Join(names, " -> "))))
		}
	}
	return out
}

// findCycles returns one cycle for every strongly connected component of the
// graph that has one, each starting at its smallest node and following the
// smallest successor that stays in the component.
func findCycles(nodes map[string]manifest.Object, edges map[string][]string) [][]string {
	ids := make([]string, 0, len(nodes))
	for id := range nodes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	// Tarjan's strongly connected components.
	index, low := map[string]int{}, map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var sccs [][]string
	counter := 0
	var strong func(v string)
	strong = func(v string) {
		index[v], low[v] = counter, counter
		counter++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range edges[v] {
			if _, exists := nodes[w]; !exists {
				continue
			}
			if _, visited := index[w]; !visited {
				strong(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var scc []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				scc = append(scc, w)
				if w == v {
					break
				}
			}
			sccs = append(sccs, scc)
		}
	}
	for _, id := range ids {
		if _, visited := index[id]; !visited {
			strong(id)
		}
	}
	var cycles [][]string
	for _, scc := range sccs {
		in := map[string]bool{}
		for _, v := range scc {
			in[v] = true
		}
		sort.Strings(scc)
		start := scc[0]
		if len(scc) == 1 && !contains(edges[start], start) {
			continue
		}
		// Walk from start through the component back to start (BFS for the
		// shortest way back, so the reported cycle is a simple one).
		cycles = append(cycles, shortestCycle(start, edges, in))
	}
	sort.Slice(cycles, func(i, j int) bool { return cycles[i][0] < cycles[j][0] })
	return cycles
}

// shortestCycle finds the shortest path from start back to start inside the
// component in.
func shortestCycle(start string, edges map[string][]string, in map[string]bool) []string {
	prev := map[string]string{}
	queue := []string{start}
	seen := map[string]bool{}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		succ := append([]string(nil), edges[v]...)
		sort.Strings(succ)
		for _, w := range succ {
			if !in[w] {
				continue
			}
			if w == start {
				path := []string{v}
				for path[0] != start {
					path = append([]string{prev[path[0]]}, path...)
				}
				return path
			}
			if !seen[w] {
				seen[w] = true
				prev[w] = v
				queue = append(queue, w)
			}
		}
	}
	return []string{start}
}

// checkImageTags reports containers whose image can change under the same
// name: no tag, or "latest", and no digest. The local environment builds and
// loads its own images, so it is exempt.
func checkImageTags(env string, obj manifest.Object) []manifest.Finding {
	if env == LocalEnvironment {
		return nil
	}
	_, _, cs := podContainers(obj)
	var out []manifest.Finding
	for _, c := range cs {
		image, _ := c.spec["image"].(string)
		if image == "" || !mutableImage(image) {
			continue
		}
		out = append(out, finder(env, obj)(c.path+".image", fmt.Sprintf("mutable image reference %q: pin a tag other than latest, or a digest", image)))
	}
	return out
}

// mutableImage reports whether an image reference has neither a digest nor a
// tag other than "latest".
func mutableImage(ref string) bool {
	if strings.Contains(ref, "@") {
		return false
	}
	tag := ""
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		tag = ref[i+1:]
	}
	return tag == "" || tag == "latest"
}
