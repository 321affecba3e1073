package up_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/leynos/gitops-local/bootstrap/progress"
	"github.com/leynos/gitops-local/bootstrap/testutil"
	"github.com/leynos/gitops-local/bootstrap/up"
	watchloop "github.com/leynos/gitops-local/bootstrap/watch"
)

// The edits the latency benchmarks make: a ConfigMap value in the local
// overlay, applied by the root Kustomization, and a pod annotation in the
// app's HelmRelease values, which reaches the Deployment through the
// dependsOn chain and a Helm upgrade.
const (
	benchProbe     = "overlays/local/bench-probe.yaml"
	benchProbeYAML = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bench-probe\n  namespace: flux-system\ndata:\n  value: \"%s\"\n"
	benchMarker    = "            podAnnotations:\n              bench: \""
)

// latencyStack is the local preview, up on a fresh test control plane, with
// the two edit targets in place.
type latencyStack struct {
	*stack
	root string
	cs   kubernetes.Interface
}

func newLatencyStack(ctx context.Context, b *testing.B) *latencyStack {
	b.Helper()
	root := copyRepo(b)
	writeFile(b, root, benchProbe, fmt.Sprintf(benchProbeYAML, "start"))
	testutil.Edit(b, root, "overlays/local/kustomization.yaml", "  - ghillie.yaml", "  - ghillie.yaml\n  - bench-probe.yaml")
	testutil.Edit(b, root, "overlays/local/ghillie.yaml", "            replicaCount: 1\n", "            replicaCount: 1\n"+benchMarker+"start\"\n")
	s := newStack(ctx, b, root)
	if _, out, err := s.up(ctx, b); err != nil {
		b.Fatalf("up: %v\n%s", err, out)
	}
	cs, err := kubernetes.NewForConfig(s.env.Config)
	if err != nil {
		b.Fatal(err)
	}
	return &latencyStack{stack: s, root: root, cs: cs}
}

func writeFile(tb testing.TB, root, rel, content string) {
	tb.Helper()
	if err := os.WriteFile(filepath.Join(root, rel), []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// setAnnotation rewrites the bench pod annotation's value in the overlay.
func setAnnotation(tb testing.TB, root, v string) {
	tb.Helper()
	p := filepath.Join(root, "overlays/local/ghillie.yaml")
	data, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, benchMarker)
	if i < 0 {
		tb.Fatalf("no bench annotation in %s", p)
	}
	j := i + len(benchMarker)
	k := j + strings.IndexByte(s[j:], '"')
	writeFile(tb, root, "overlays/local/ghillie.yaml", s[:j]+v+s[k:])
}

// until watches one object from now on and returns when ok holds for it.
func until(ctx context.Context, tb testing.TB, w watch.Interface, ok func(runtime.Object) bool) {
	tb.Helper()
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			tb.Fatalf("the change never became visible: %v", context.Cause(ctx))
		case ev, open := <-w.ResultChan():
			if !open {
				tb.Fatal("watch closed")
			}
			if ev.Type != watch.Error && ok(ev.Object) {
				return
			}
		}
	}
}

// watchProbe and watchDeployment start a watch before the edit, so that no
// change is missed.
func (s *latencyStack) watchProbe(ctx context.Context, tb testing.TB) watch.Interface {
	w, err := s.cs.CoreV1().ConfigMaps("flux-system").Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=bench-probe"})
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

func (s *latencyStack) watchDeployment(ctx context.Context, tb testing.TB) watch.Interface {
	w, err := s.cs.AppsV1().Deployments(up.App.Namespace).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=ghillie"})
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

func probeIs(v string) func(runtime.Object) bool {
	return func(o runtime.Object) bool {
		cm, ok := o.(*corev1.ConfigMap)
		return ok && cm.Data["value"] == v
	}
}

func annotationIs(v string) func(runtime.Object) bool {
	return func(o runtime.Object) bool {
		d, ok := o.(*appsv1.Deployment)
		return ok && d.Spec.Template.Annotations["bench"] == v
	}
}

// report adds the 50th and 95th percentiles of samples to b's results.
func report(b *testing.B, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	pct := func(p float64) float64 {
		i := int(p*float64(len(s))+0.5) - 1
		i = max(0, min(len(s)-1, i))
		return s[i].Seconds()
	}
	b.ReportMetric(pct(0.50), "p50-s")
	b.ReportMetric(pct(0.95), "p95-s")
	b.ReportMetric(s[len(s)-1].Seconds(), "max-s")
	b.ReportMetric(float64(len(s)), "samples")
	b.Logf("%d samples: %v", len(s), s)
}

// BenchmarkWatchLatency measures the inner loop: from writing a file to the
// changed field being visible in the API server, with the real watch loop
// running the real sync on a test control plane the local preview is up on.
// Each iteration is one edit, made once the previous round has ended.
// Targets: a ConfigMap value in the overlay p50 ≤ 1 s; a HelmRelease value
// reaching the Deployment p50 ≤ 2 s and p95 ≤ 2.5 s. The helmrelease edits
// also report the median of each stage on the way (hrStages), from watches
// started before each write, and log every edit's moments. Run it with:
//
//	go test -run '^$' -bench BenchmarkWatchLatency -benchtime 20x -timeout 60m ./bootstrap/up
func BenchmarkWatchLatency(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Minute)
	defer cancel()
	s := newLatencyStack(ctx, b)

	type round struct {
		start time.Time
		sum   *up.Summary
		err   error
	}
	rounds := make(chan round, 16)
	opts := s.opts
	opts.Validated = up.NewValidated()
	opts.Log = progress.Discard
	loopCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- watchloop.Run(loopCtx, watchloop.Options{Root: s.root, Round: func(ctx context.Context, _ []string) error {
			start := time.Now()
			sum, err := up.Sync(ctx, progress.New(discard{}, false), opts)
			rounds <- round{start, sum, err}
			return err
		}})
	}()
	defer func() { stop(); <-done }()
	time.Sleep(200 * time.Millisecond) // let the watcher start

	// endRound waits for the round the edit started, fails on its error,
	// adds the time of each of its steps to steps and returns it.
	endRound := func(b *testing.B, steps map[string]time.Duration) round {
		select {
		case r := <-rounds:
			if r.err != nil {
				b.Fatalf("sync round: %v", r.err)
			}
			for _, st := range r.sum.Steps {
				steps[stepKey(st.Name)] += st.Duration
			}
			return r
		case <-ctx.Done():
			b.Fatal("no round ended")
		}
		return round{}
	}
	// stages, when set, is called before each write and returns what to
	// call once the edit's round has ended, with the write's time, the
	// value written, when the round started and its step durations.
	type stagesFunc func(b *testing.B) func(t0 time.Time, v string, start time.Time, sum *up.Summary)
	measure := func(b *testing.B, name string, start func(context.Context, testing.TB) watch.Interface, write func(v string), visible func(string) func(runtime.Object) bool, stages stagesFunc) {
		var samples []time.Duration
		steps := map[string]time.Duration{}
		for i := 0; i < b.N; i++ {
			v := fmt.Sprintf("%s-%d-%d", name, b.N, i)
			w := start(ctx, b)
			var after func(time.Time, string, time.Time, *up.Summary)
			if stages != nil {
				after = stages(b)
			}
			t0 := time.Now()
			write(v)
			until(ctx, b, w, visible(v))
			samples = append(samples, time.Since(t0))
			r := endRound(b, steps)
			if after != nil {
				after(t0, v, r.start, r.sum)
			}
		}
		report(b, samples)
		// Where a round's time goes, on average: validate, publish, ask
		// (configure and request) and wait (until everything is Ready,
		// well after the field is visible).
		for name, d := range steps {
			b.ReportMetric(d.Seconds()/float64(b.N), "round-"+name+"-s")
		}
	}
	b.Run("configmap", func(b *testing.B) {
		measure(b, "cm", s.watchProbe, func(v string) { writeFile(b, s.root, benchProbe, fmt.Sprintf(benchProbeYAML, v)) }, probeIs, nil)
	})
	b.Run("helmrelease", func(b *testing.B) {
		c := s.watchClient(b)
		stages := map[string][]time.Duration{}
		measure(b, "hr", s.watchDeployment, func(v string) { setAnnotation(b, s.root, v) }, annotationIs, func(b *testing.B) func(time.Time, string, time.Time, *up.Summary) {
			old := readBefore(ctx, b, c)
			rec := record(ctx, b, c)
			return func(t0 time.Time, v string, start time.Time, sum *up.Summary) {
				m := stageMoments(b, rec.close(), t0, old, v)
				addStages(b, stages, m, t0, start, sum)
			}
		})
		reportStages(b, stages)
	})
}

// BenchmarkPushLatencyBaseline is the same ConfigMap edit, validated and
// pushed but left to Flux's own intervals (no reconcile request): the root
// OCIRepository polls the registry every 10 minutes, so each sample takes
// up to that long. Run it with a few iterations:
//
//	go test -run '^$' -bench BenchmarkPushLatencyBaseline -benchtime 1x -timeout 60m ./bootstrap/up
func BenchmarkPushLatencyBaseline(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Minute)
	defer cancel()
	s := newLatencyStack(ctx, b)
	var samples []time.Duration
	for i := 0; i < b.N; i++ {
		v := fmt.Sprintf("baseline-%d-%d", b.N, i)
		w := s.watchProbe(ctx, b)
		t0 := time.Now()
		writeFile(b, s.root, benchProbe, fmt.Sprintf(benchProbeYAML, v))
		r, err := up.New(s.opts)
		if err != nil {
			b.Fatal(err)
		}
		steps := r.SyncSteps()[:2] // validate and publish, no reconcile request
		if _, err := progress.New(discard{}, false).Run(ctx, steps); err != nil {
			b.Fatal(err)
		}
		until(ctx, b, w, probeIs(v))
		samples = append(samples, time.Since(t0))
	}
	report(b, samples)
}
