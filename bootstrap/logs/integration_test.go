package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/leynos/gitops-local/bootstrap/internal/testenv"
)

var appSelector = map[string]string{"app.kubernetes.io/name": "ghillie"}

// The pods' containers cannot run here: kwok, the control plane's kubelet,
// serves each container's log from the file a ClusterLogs object names, in
// the CRI log format a real kubelet reads ("TIME STREAM F LINE").
var clusterLogsGVR = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "clusterlogs"}

// serveLogs has kwok serve, for the pods of namespace, container c's log
// from files[c].
func serveLogs(t *testing.T, dc dynamic.Interface, name, namespace string, files map[string]string) {
	t.Helper()
	var logs []any
	for c, f := range files {
		logs = append(logs, map[string]any{"containers": []any{c}, "logsFile": f, "follow": true})
	}
	cl := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterLogs",
		"metadata": map[string]any{"name": name},
		"spec":     map[string]any{"selector": map[string]any{"matchNamespaces": []any{namespace}}, "logs": logs},
	}}
	if _, err := dc.Resource(clusterLogsGVR).Create(t.Context(), cl, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating ClusterLogs %s: %v", name, err)
	}
}

// logFile copies a testdata log into a temporary file and appends lines
// stamped now, so that --since can tell them apart.
func logFile(t *testing.T, testdata string, recent ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", testdata))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), testdata)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	appendLines(t, path, "stdout", recent...)
	return path
}

func appendLines(t *testing.T, path, stream string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := fmt.Fprintf(f, "%s %s F %s\n", time.Now().UTC().Format(time.RFC3339Nano), stream, l); err != nil {
			t.Fatal(err)
		}
	}
}

func deployment(namespace, name string, replicas int32, podLabels map[string]string, containers ...string) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: podLabels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: podLabels}},
		},
	}
	for _, c := range containers {
		d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{Name: c, Image: "example.invalid/" + c})
	}
	return d
}

// runningPods waits until n pods of the selector run, and returns their
// names, sorted.
func runningPods(t *testing.T, cs kubernetes.Interface, namespace string, sel map[string]string, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var names []string
	for {
		list, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: metav1.FormatLabelSelector(&metav1.LabelSelector{MatchLabels: sel})})
		names = names[:0]
		if err == nil {
			for _, p := range list.Items {
				if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
					names = append(names, p.Name)
				}
			}
		}
		if len(names) == n {
			slices.Sort(names)
			return names
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d pods of %v running, want %d (last error: %v)", len(names), sel, n, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func createNamespace(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	if _, err := cs.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestAppOnTheControlPlane reads the logs of a two-pod, two-container
// Deployment through the real API server and kubelet API.
func TestAppOnTheControlPlane(t *testing.T) {
	env := testenv.Start(t.Context(), t, testenv.WithoutFlux())
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	const ns = "ghillie"
	createNamespace(t, cs, ns)
	appLog := logFile(t, "app.log", "app: recent 1", "app: recent 2")
	proxyLog := logFile(t, "proxy.log")
	serveLogs(t, dc, "ghillie", ns, map[string]string{"app": appLog, "proxy": proxyLog})
	d := deployment(ns, "ghillie", 2, appSelector, "app", "proxy")
	if _, err := cs.AppsV1().Deployments(ns).Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := runningPods(t, cs, ns, appSelector, 2)

	read := func(t *testing.T, opts Options) ([]string, error) {
		t.Helper()
		var out bytes.Buffer
		opts.Namespace, opts.Selector, opts.Out = ns, appSelector, &out
		err := App(t.Context(), cs, opts)
		return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n"), err
	}
	appLines, _ := os.ReadFile(appLog)
	proxyLines, _ := os.ReadFile(proxyLog)
	// messages are a CRI log file's lines as the kubelet returns them.
	messages := func(b []byte) []string {
		var out []string
		for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			out = append(out, strings.SplitN(l, " ", 4)[3])
		}
		return out
	}
	prefixed := func(pod, container string, lines []string) []string {
		var out []string
		for _, l := range lines {
			out = append(out, "[pod/"+pod+"/"+container+"] "+l)
		}
		return out
	}

	t.Run("every container of every pod, every line, pod by pod", func(t *testing.T) {
		got, err := read(t, Options{Tail: -1})
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, p := range pods {
			want = append(want, prefixed(p, "app", messages(appLines))...)
			want = append(want, prefixed(p, "proxy", messages(proxyLines))...)
		}
		if !slices.Equal(got, want) {
			t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("--container app --since 1h", func(t *testing.T) {
		got, err := read(t, Options{Container: "app", Since: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, p := range pods {
			want = append(want, prefixed(p, "app", []string{"app: recent 1", "app: recent 2"})...)
		}
		if !slices.Equal(got, want) {
			t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("default tail is the last 10 lines of each container", func(t *testing.T) {
		got, err := read(t, Options{Container: "app"})
		if err != nil {
			t.Fatal(err)
		}
		all := messages(appLines)
		var want []string
		for _, p := range pods {
			want = append(want, prefixed(p, "app", all[len(all)-DefaultTail:])...)
		}
		if !slices.Equal(got, want) {
			t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("a container no pod has", func(t *testing.T) {
		_, err := read(t, Options{Container: "web"})
		want := fmt.Sprintf(`no container "web" in pods %s, %s: their containers are app, proxy`, pods[0], pods[1])
		if err == nil || err.Error() != want {
			t.Errorf("error %v, want %q", err, want)
		}
	})

	t.Run("no pods", func(t *testing.T) {
		err := App(t.Context(), cs, Options{Namespace: ns, Selector: map[string]string{"app.kubernetes.io/name": "nothing"}, Out: &bytes.Buffer{}})
		var noPods *NoPodsError
		if !errors.As(err, &noPods) || !strings.Contains(err.Error(), "app.kubernetes.io/name=nothing in namespace ghillie") {
			t.Errorf("error %v, want a NoPodsError naming the selector and namespace", err)
		}
	})

	t.Run("--follow streams new lines and the pods a rollout starts, until cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		out := &syncBuffer{}
		done := make(chan error, 1)
		go func() {
			done <- App(ctx, cs, Options{Namespace: ns, Selector: appSelector, Container: "app", Tail: 1, Follow: true, Out: out})
		}()
		for _, p := range pods {
			out.waitFor(t, "[pod/"+p+"/app] app: recent 2\n")
		}
		appendLines(t, appLog, "stdout", "app: written while following")
		for _, p := range pods {
			out.waitFor(t, "[pod/"+p+"/app] app: written while following\n")
		}
		if _, err := cs.AppsV1().Deployments(ns).Patch(t.Context(), "ghillie", k8stypes.MergePatchType, []byte(`{"spec":{"replicas":3}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		now := runningPods(t, cs, ns, appSelector, 3)
		var added string
		for _, p := range now {
			if !slices.Contains(pods, p) {
				added = p
			}
		}
		// A pod started while following shows every line of its log.
		out.waitFor(t, "[pod/"+added+"/app] app: started request 01\n")
		out.waitFor(t, "[pod/"+added+"/app] app: written while following\n")
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("App returned %v after cancel, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("App still running 10s after its context was cancelled")
		}
		if n := strings.Count(out.String(), "[pod/"+pods[0]+"/app] app: written while following\n"); n != 1 {
			t.Errorf("a line appeared %d times for one stream, want once:\n%s", n, out.String())
		}
	})
}

// syncBuffer is an output that a test can read while App writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(s.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q after 30s in:\n%s", want, s.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFluxOnTheControlPlane shows the real Flux controllers' log lines
// about real objects: the controllers run on the host, so their logs are
// served by kwok (converted to the CRI format) as those of stand-in pods
// labelled as Flux labels its controllers' pods.
func TestFluxOnTheControlPlane(t *testing.T) {
	env := testenv.Start(t.Context(), t)
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	c := testenv.Client(t, env)
	createNamespace(t, cs, "team")
	oci := func(ns, name string, labels map[string]string) *sourcev1.OCIRepository {
		return &sourcev1.OCIRepository{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
			Spec: sourcev1.OCIRepositorySpec{URL: "oci://" + env.RegistryPush + "/absent/" + name, Insecure: true,
				Reference: &sourcev1.OCIRepositoryRef{Tag: "latest"}, Interval: metav1.Duration{Duration: time.Hour}},
		}
	}
	ks := func(ns, name, source string, labels map[string]string) *kustomizev1.Kustomization {
		return &kustomizev1.Kustomization{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
			Spec: kustomizev1.KustomizationSpec{Interval: metav1.Duration{Duration: time.Hour}, Prune: true, Path: "./",
				SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "OCIRepository", Name: source}},
		}
	}
	byRoot := map[string]string{kustomizeNameLabel: "flux-system", kustomizeNamespaceLabel: "flux-system"}
	for _, o := range []client.Object{
		oci("flux-system", "flux-system", nil),
		ks("flux-system", "flux-system", "flux-system", nil),
		ks("flux-system", "apps", "flux-system", byRoot),
		// Another tree in the same cluster: not this environment's.
		oci("team", "other", nil),
		ks("team", "other", "other", nil),
	} {
		if err := c.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
	refs, err := FluxObjects(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range refs {
		names = append(names, r.String())
	}
	if want := "Kustomization/flux-system/apps Kustomization/flux-system/flux-system OCIRepository/flux-system/flux-system"; strings.Join(names, " ") != want {
		t.Errorf("FluxObjects = %v, want %s", names, want)
	}

	// Wait until the real controllers have logged about both trees.
	files := map[string]string{}
	for _, ctl := range []string{"source-controller", "kustomize-controller"} {
		raw := filepath.Join(env.Dir, "logs", ctl+".log")
		deadline := time.Now().Add(time.Minute)
		for {
			b, _ := os.ReadFile(raw)
			if bytes.Contains(b, []byte(`"name":"other"`)) && bytes.Contains(b, []byte(`"name":"flux-system"`)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s logged nothing about both trees within a minute:\n%s", ctl, b)
			}
			time.Sleep(200 * time.Millisecond)
		}
		b, _ := os.ReadFile(raw)
		files[ctl] = filepath.Join(t.TempDir(), ctl+".log")
		if err := os.WriteFile(files[ctl], nil, 0o644); err != nil {
			t.Fatal(err)
		}
		appendLines(t, files[ctl], "stderr", strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "flux-system", Name: ctl + "-0", Labels: map[string]string{"app": ctl}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "manager", Image: "example.invalid/" + ctl}}},
		}
		if _, err := cs.CoreV1().Pods("flux-system").Create(t.Context(), pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		cl := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterLogs",
			"metadata": map[string]any{"name": ctl},
			"spec": map[string]any{
				"selector": map[string]any{"matchNamespaces": []any{"flux-system"}, "matchNames": []any{ctl + "-0"}},
				"logs":     []any{map[string]any{"logsFile": files[ctl]}},
			},
		}}
		if _, err := dc.Resource(clusterLogsGVR).Create(t.Context(), cl, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	runningPods(t, cs, "flux-system", map[string]string{"app": "kustomize-controller"}, 1)
	runningPods(t, cs, "flux-system", map[string]string{"app": "source-controller"}, 1)

	var out bytes.Buffer
	if err := Flux(t.Context(), cs, c, FluxOptions{Options: Options{Out: &out}}); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{" source-controller OCIRepository/flux-system/flux-system: ", " kustomize-controller Kustomization/flux-system/flux-system: "} {
		if !strings.Contains(text, want) {
			t.Errorf("no line with %q in:\n%s", want, text)
		}
	}
	if strings.Contains(text, "/team/") {
		t.Errorf("lines about another tree's objects:\n%s", text)
	}

	out.Reset()
	if err := Flux(t.Context(), cs, c, FluxOptions{Options: Options{Out: &out, JSON: true}}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for _, l := range lines {
		e, ok := parseEntry(l)
		if !ok || e.Namespace != "flux-system" {
			t.Errorf("-o json line not about this environment: %s", l)
		}
	}
	if len(lines) != strings.Count(text, "\n") {
		t.Errorf("%d JSON lines, %d text lines: want the same lines", len(lines), strings.Count(text, "\n"))
	}
}
