// Package logs streams the logs of the preview's pods, like `kubectl logs -l`
// and stern: every container of every pod a label selector matches, each
// line prefixed with its pod and container when there is more than one
// stream, and, when following, the pods a rollout starts later too.
//
// App streams the app's logs; Flux streams the Flux controllers' logs, kept
// to the lines about this environment's Flux objects (see FluxObjects).
package logs

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/leynos/gitops-local/bootstrap/progress"
)

// DefaultTail is how many recent lines of each container Tail's zero value
// shows: kubectl's default when pods are chosen by a label selector.
const DefaultTail = 10

// Options choose the pods and which of their lines to show.
type Options struct {
	// Namespace and Selector choose the pods.
	Namespace string
	Selector  map[string]string
	// Container limits the streams to the containers with this name; ""
	// means every container.
	Container string
	// Since shows only lines newer than this; 0 means no limit.
	Since time.Duration
	// Tail is how many recent lines of each container to show first: 0
	// means DefaultTail, a negative number every line. Pods that start while
	// following show every line.
	Tail int64
	// Follow keeps streaming, and streams the pods that start later, until
	// ctx ends.
	Follow bool
	// JSON writes one JSON object per line instead of text.
	JSON bool
	// Out receives the log lines.
	Out io.Writer
	// Log receives notes (pods skipped, streams ended); nil discards them.
	Log progress.Logger
}

func (o *Options) check() error {
	if o.Since < 0 {
		return fmt.Errorf("invalid --since %s: want a positive duration such as 10m", o.Since)
	}
	if o.Out == nil {
		return errors.New("logs: no output")
	}
	if o.Log == nil {
		o.Log = progress.Discard
	}
	return nil
}

// NoPodsError says that no pod matched: nothing to show logs of.
type NoPodsError struct {
	Namespace string
	Selector  string
}

func (e *NoPodsError) Error() string {
	return fmt.Sprintf("no pods labelled %s in namespace %s: is the preview up? check with gitops-local status", e.Selector, e.Namespace)
}

// App writes the logs of every pod opts selects to opts.Out: one line per
// log line, prefixed "[pod/NAME/CONTAINER] " when there is more than one
// stream or when following (a rollout adds pods), or as JSON objects
// {"pod","container","message"} with opts.JSON.
func App(ctx context.Context, cs kubernetes.Interface, opts Options) error {
	if opts.Namespace == "" || len(opts.Selector) == 0 {
		return errors.New("logs: a namespace and a label selector are required")
	}
	if err := opts.check(); err != nil {
		return err
	}
	out := &lineWriter{w: opts.Out}
	sel := labels.SelectorFromSet(opts.Selector).String()
	return streamSelected(ctx, cs, opts, sel, func(prefixed bool) lineFunc {
		return func(t target, line string) error {
			return out.write(appLine(t, line, prefixed, opts.JSON))
		}
	})
}

// appLine is how App prints one line of t's log.
func appLine(t target, line string, prefixed, asJSON bool) string {
	if asJSON {
		b, _ := json.Marshal(struct { // strings always marshal
			Pod       string `json:"pod"`
			Container string `json:"container"`
			Message   string `json:"message"`
		}{t.Pod, t.Container, line})
		return string(b)
	}
	if prefixed {
		return t.prefix() + line
	}
	return line
}

// lineFunc handles one log line of one stream.
type lineFunc func(t target, line string) error

// target is one container of one pod: one log stream.
type target struct {
	Pod       string
	UID       types.UID
	Container string
	// Restarts tells the container's instances apart: a restarted
	// container is a new stream.
	Restarts int32
	// Labels are the pod's labels.
	Labels map[string]string
}

func (t target) key() string {
	return fmt.Sprintf("%s/%s/%d", t.UID, t.Container, t.Restarts)
}

// prefix is kubectl's --prefix.
func (t target) prefix() string { return "[pod/" + t.Pod + "/" + t.Container + "] " }

// tracker decides which containers to stream: each started container
// instance once, in pod-name order, and nothing of pods being deleted.
type tracker struct {
	container string
	seen      map[string]bool
}

func newTracker(container string) *tracker {
	return &tracker{container: container, seen: map[string]bool{}}
}

// update returns the containers of pod not streamed yet that have started
// (or ran, and have logs), and marks them streamed. waiting lists the
// selected containers that have not started.
func (tr *tracker) update(pod *corev1.Pod) (start []target, waiting []string) {
	if pod.DeletionTimestamp != nil {
		return nil, nil
	}
	statuses := map[string]corev1.ContainerStatus{}
	for _, s := range pod.Status.ContainerStatuses {
		statuses[s.Name] = s
	}
	for _, c := range pod.Spec.Containers {
		if tr.container != "" && c.Name != tr.container {
			continue
		}
		s, ok := statuses[c.Name]
		if !ok || !hasLogs(s) {
			waiting = append(waiting, c.Name)
			continue
		}
		t := target{Pod: pod.Name, UID: pod.UID, Container: c.Name, Restarts: s.RestartCount, Labels: pod.Labels}
		if tr.seen[t.key()] {
			continue
		}
		tr.seen[t.key()] = true
		start = append(start, t)
	}
	return start, waiting
}

// hasLogs reports whether a container runs or has run, so that the kubelet
// has logs for it.
func hasLogs(s corev1.ContainerStatus) bool {
	return s.State.Running != nil || s.State.Terminated != nil || s.LastTerminationState.Terminated != nil
}

// checkContainer fails when a container name was given that no pod has,
// naming the containers the pods do have.
func checkContainer(pods []corev1.Pod, container string) error {
	if container == "" {
		return nil
	}
	have := map[string]bool{}
	for _, p := range pods {
		for _, c := range p.Spec.Containers {
			if c.Name == container {
				return nil
			}
			have[c.Name] = true
		}
	}
	names := slices.Sorted(maps.Keys(have))
	podNames := make([]string, 0, len(pods))
	for _, p := range pods {
		podNames = append(podNames, p.Name)
	}
	return fmt.Errorf("no container %q in pods %s: their containers are %s",
		container, strings.Join(podNames, ", "), strings.Join(names, ", "))
}

// streamSelected lists the pods sel selects in opts.Namespace, checks the container name, and streams
// each started container to the lineFunc newLine returns, told whether lines
// are to be prefixed. Without Follow it streams the containers one after
// another, in pod-name order, and returns; with Follow it streams them all
// at once, starts streams for the pods that start later, stops the streams
// of deleted pods, and returns nil when ctx ends.
func streamSelected(ctx context.Context, cs kubernetes.Interface, opts Options, sel string, newLine func(prefixed bool) lineFunc) error {
	list, err := cs.CoreV1().Pods(opts.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return fmt.Errorf("listing pods labelled %s in namespace %s: %w", sel, opts.Namespace, err)
	}
	pods := list.Items
	if len(pods) == 0 {
		return &NoPodsError{Namespace: opts.Namespace, Selector: sel}
	}
	if err := checkContainer(pods, opts.Container); err != nil {
		return err
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	tr := newTracker(opts.Container)
	var initial []target
	for i := range pods {
		start, waiting := tr.update(&pods[i])
		initial = append(initial, start...)
		for _, c := range waiting {
			opts.Log.Infof("pod %s: container %s has not started yet", pods[i].Name, c)
		}
	}
	handle := newLine(opts.Follow || len(initial) > 1)
	tail := opts.Tail
	if tail == 0 {
		tail = DefaultTail
	}
	if !opts.Follow {
		if len(initial) == 0 {
			return fmt.Errorf("no container of the pods labelled %s in namespace %s has started: nothing to show yet (try --follow)", sel, opts.Namespace)
		}
		for _, t := range initial {
			if err := streamOne(ctx, cs, opts, t, tail, handle); err != nil {
				return err
			}
		}
		return nil
	}
	f := &follower{cs: cs, opts: opts, sel: sel, handle: handle, tracker: tr, cancels: map[types.UID][]context.CancelFunc{}}
	return f.run(ctx, initial, tail, list.ResourceVersion)
}

// streamOne copies one container's log, line by line, to handle. tail < 0
// means every line.
func streamOne(ctx context.Context, cs kubernetes.Interface, opts Options, t target, tail int64, handle lineFunc) error {
	lo := &corev1.PodLogOptions{Container: t.Container, Follow: opts.Follow}
	if tail >= 0 {
		lo.TailLines = &tail
	}
	if opts.Since > 0 {
		// Round up, as kubectl does, so that nothing newer is cut.
		sec := int64((opts.Since + time.Second - 1) / time.Second)
		lo.SinceSeconds = &sec
	}
	rc, err := cs.CoreV1().Pods(opts.Namespace).GetLogs(t.Pod, lo).Stream(ctx)
	if err != nil {
		return fmt.Errorf("reading the logs of pod %s/%s container %s: %w", opts.Namespace, t.Pod, t.Container, err)
	}
	defer rc.Close()
	r := bufio.NewReader(rc)
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			if herr := handle(t, strings.TrimSuffix(line, "\n")); herr != nil {
				return herr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("reading the logs of pod %s/%s container %s: %w", opts.Namespace, t.Pod, t.Container, err)
		}
	}
}

// follower runs the streams of Follow.
type follower struct {
	cs      kubernetes.Interface
	opts    Options
	sel     string
	handle  lineFunc
	tracker *tracker

	wg      sync.WaitGroup
	mu      sync.Mutex
	cancels map[types.UID][]context.CancelFunc
	errOnce sync.Once
	err     error
	fail    context.CancelCauseFunc
}

func (f *follower) run(parent context.Context, initial []target, tail int64, resourceVersion string) error {
	ctx, fail := context.WithCancelCause(parent)
	f.fail = fail
	defer fail(nil)
	for _, t := range initial {
		f.start(ctx, t, tail)
	}
	err := f.watch(ctx, resourceVersion)
	if ctx.Err() != nil {
		err = nil // stopped: Ctrl-C, or the output failed
	}
	fail(nil)
	f.wg.Wait()
	if f.err != nil {
		return f.err
	}
	return err
}

// start streams t until its pod is deleted or ctx ends.
func (f *follower) start(ctx context.Context, t target, tail int64) {
	sctx, cancel := context.WithCancel(ctx)
	f.mu.Lock()
	f.cancels[t.UID] = append(f.cancels[t.UID], cancel)
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer cancel()
		err := streamOne(sctx, f.cs, f.opts, t, tail, f.handle)
		switch {
		case errors.Is(err, errStop):
			f.stop(err)
		case err == nil || sctx.Err() != nil:
			// The container ended, its pod was deleted, or we stop.
		default:
			// A pod going away mid-stream is part of a rollout: note it
			// and keep the other streams.
			f.opts.Log.Warnf("%v", err)
		}
	}()
}

// stop ends every stream because the output failed.
func (f *follower) stop(err error) {
	f.errOnce.Do(func() {
		f.err = err
		f.fail(err)
	})
}

// watch follows the selected pods from resourceVersion, starting streams
// for new containers and stopping those of deleted pods; when the watch
// closes it lists again and resumes.
func (f *follower) watch(ctx context.Context, resourceVersion string) error {
	pods := f.cs.CoreV1().Pods(f.opts.Namespace)
	sel := f.sel
	for ctx.Err() == nil {
		w, err := pods.Watch(ctx, metav1.ListOptions{LabelSelector: sel, ResourceVersion: resourceVersion, AllowWatchBookmarks: true})
		if err != nil {
			return fmt.Errorf("watching pods labelled %s in namespace %s: %w", sel, f.opts.Namespace, err)
		}
		resourceVersion = f.events(ctx, w)
		w.Stop()
		if resourceVersion == "" && ctx.Err() == nil {
			// The watch expired: list again, and start what is new.
			list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: sel})
			if err != nil {
				return fmt.Errorf("listing pods labelled %s in namespace %s: %w", sel, f.opts.Namespace, err)
			}
			for i := range list.Items {
				f.update(ctx, watch.Modified, &list.Items[i])
			}
			resourceVersion = list.ResourceVersion
		}
	}
	return nil
}

// events handles a watch's events until it closes, and returns the
// resource version to resume from ("" when the watch expired).
func (f *follower) events(ctx context.Context, w watch.Interface) string {
	rv := ""
	for {
		select {
		case <-ctx.Done():
			return rv
		case ev, ok := <-w.ResultChan():
			if !ok {
				return rv
			}
			if ev.Type == watch.Error {
				return ""
			}
			pod, isPod := ev.Object.(*corev1.Pod)
			if !isPod {
				continue
			}
			rv = pod.ResourceVersion
			f.update(ctx, ev.Type, pod)
		}
	}
}

func (f *follower) update(ctx context.Context, ev watch.EventType, pod *corev1.Pod) {
	if ev == watch.Deleted || pod.DeletionTimestamp != nil {
		f.mu.Lock()
		cancels := f.cancels[pod.UID]
		delete(f.cancels, pod.UID)
		f.mu.Unlock()
		for _, c := range cancels {
			c()
		}
		return
	}
	if ev == watch.Bookmark {
		return
	}
	start, _ := f.tracker.update(pod)
	for _, t := range start {
		f.opts.Log.Infof("streaming pod %s container %s", t.Pod, t.Container)
		// Every line of a container that started while following is new.
		f.start(ctx, t, -1)
	}
}

// errStop marks an error that ends every stream: the output is gone.
var errStop = errors.New("output closed")

// lineWriter writes whole lines from concurrent streams.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) write(line string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := io.WriteString(l.w, line+"\n"); err != nil {
		return fmt.Errorf("writing logs: %w: %w", errStop, err)
	}
	return nil
}
