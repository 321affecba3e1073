package render

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	chart "helm.sh/helm/v4/pkg/chart/v2"

	"github.com/leynos/gitops-local/bootstrap/resultcache"
	"github.com/leynos/gitops-local/bootstrap/testutil"
)

func openCounting(t *testing.T, dir, tool string) *testutil.CountingCache {
	t.Helper()
	c, err := resultcache.Open(dir, resultcache.Options{ToolID: tool})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &testutil.CountingCache{Backing: c}
}

// cacheChartFiles is a chart whose output shows every input of a render:
// the release, the Kubernetes version and API versions, values of the
// parent and its subchart, chart defaults and a file the subchart reads.
var cacheChartFiles = map[string]string{
	"Chart.yaml":  "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n- name: sub\n  version: 0.1.0\n",
	"values.yaml": "replicas: 2\n",
	"templates/cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
data:
  replicas: {{ .Values.replicas | quote }}
  big: {{ .Values.big | quote }}
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  widgets: {{ .Capabilities.APIVersions.Has "example.com/v1" | quote }}
`,
	"crds/widgets.yaml":             "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n",
	"charts/sub/Chart.yaml":         "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
	"charts/sub/values.yaml":        "colour: red\n",
	"charts/sub/files/motto.txt":    "small is beautiful\n",
	"charts/sub/templates/svc.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: sub-{{ .Values.colour }}\n  annotations:\n    motto: {{ .Files.Get \"files/motto.txt\" | trim | quote }}\n",
}

// loadFiles writes files to a new folder and loads it as a chart.
func loadFiles(t *testing.T, files map[string]string) *chart.Chart {
	t.Helper()
	ch, err := LoadChart(writeChart(t, files))
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// TestCacheKeyCoversEveryInput changes each input of a render, one at a
// time, and requires that the cached render misses, renders again, and
// equals a render without any cache; and that the same inputs then hit.
func TestCacheKeyCoversEveryInput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	baseOpts := Options{ReleaseName: "rel", Namespace: "ns", IncludeCRDs: true, Values: map[string]any{"big": int64(1000000)}}
	with := func(edit func(*Options)) Options {
		o := baseOpts
		o.Values = map[string]any{"big": int64(1000000)}
		edit(&o)
		return o
	}
	withFile := func(name, data string) map[string]string {
		files := map[string]string{}
		for k, v := range cacheChartFiles {
			files[k] = v
		}
		files[name] = data
		return files
	}
	flipByte := func(s string) string { return strings.Replace(s, "name:", "name: x", 1) }
	cases := []struct {
		name  string
		files map[string]string
		opts  Options
		tool  string
	}{
		{name: "a template byte", files: withFile("templates/cm.yaml", flipByte(cacheChartFiles["templates/cm.yaml"]))},
		{name: "a chart default value", files: withFile("values.yaml", "replicas: 3\n")},
		{name: "a subchart template byte", files: withFile("charts/sub/templates/svc.yaml", flipByte(cacheChartFiles["charts/sub/templates/svc.yaml"]))},
		{name: "a file a subchart reads", files: withFile("charts/sub/files/motto.txt", "small is beautifuL\n")},
		{name: "a subchart default value", files: withFile("charts/sub/values.yaml", "colour: green\n")},
		{name: "a CRD byte", files: withFile("crds/widgets.yaml", strings.Replace(cacheChartFiles["crds/widgets.yaml"], "widgets.", "widgetz.", 1))},
		{name: "a value", opts: with(func(o *Options) { o.Values["replicas"] = int64(5) })},
		{name: "a subchart value", opts: with(func(o *Options) { o.Values["sub"] = map[string]any{"colour": "amber"} })},
		// Templates print float64(1000000) as 1e+06.
		{name: "a value's type", opts: with(func(o *Options) { o.Values["big"] = float64(1000000) })},
		{name: "the release name", opts: with(func(o *Options) { o.ReleaseName = "other" })},
		{name: "the namespace", opts: with(func(o *Options) { o.Namespace = "other" })},
		{name: "the Kubernetes version", opts: with(func(o *Options) { o.KubeVersion = "v1.35.0" })},
		{name: "an API version", opts: with(func(o *Options) { o.APIVersions = []string{"example.com/v1"} })},
		{name: "CRDs excluded", opts: with(func(o *Options) { o.IncludeCRDs = false })},
		{name: "the tool version", tool: "tool 2"},
	}
	render := func(t *testing.T, ch *chart.Chart, opts Options, cache ResultCache) *Result {
		t.Helper()
		opts.Cache = cache
		res, err := Render(ctx, ch, opts)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	baseChart := loadFiles(t, cacheChartFiles)
	base := render(t, baseChart, baseOpts, nil)
	warm := openCounting(t, dir, "tool 1")
	if got := render(t, baseChart, baseOpts, warm); !reflect.DeepEqual(got, base) || warm.Puts() != 1 {
		t.Fatalf("first cached render: %d stores, equal to the uncached render: %v", warm.Puts(), reflect.DeepEqual(got, base))
	}
	if got := render(t, loadFiles(t, cacheChartFiles), baseOpts, warm); !reflect.DeepEqual(got, base) || warm.Hits() != 1 {
		t.Fatalf("the same chart, loaded again: %d hits, equal: %v", warm.Hits(), reflect.DeepEqual(got, base))
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files, opts, tool := cacheChartFiles, baseOpts, "tool 1"
			if tc.files != nil {
				files = tc.files
			}
			if tc.opts.ReleaseName != "" {
				opts = tc.opts
			}
			if tc.tool != "" {
				tool = tc.tool
			}
			ch := loadFiles(t, files)
			fresh := render(t, ch, opts, nil)
			if tc.tool == "" && reflect.DeepEqual(fresh, base) {
				t.Fatal("the change does not change the render: the case proves nothing")
			}
			c := openCounting(t, dir, tool)
			if got := render(t, ch, opts, c); c.Hits() != 0 || c.Puts() != 1 || !reflect.DeepEqual(got, fresh) {
				t.Fatalf("after the change: %d hits, %d stores, equal to an uncached render: %v; want a miss, a store, equal", c.Hits(), c.Puts(), reflect.DeepEqual(got, fresh))
			}
			if got := render(t, loadFiles(t, files), opts, c); c.Hits() != 1 || !reflect.DeepEqual(got, fresh) {
				t.Fatalf("again: %d hits, equal to an uncached render: %v; want a hit, equal", c.Hits(), reflect.DeepEqual(got, fresh))
			}
		})
	}

	t.Run("the limits", func(t *testing.T) {
		c := openCounting(t, dir, "tool 1")
		render(t, baseChart, with(func(o *Options) { o.Limits.MaxManifestBytes = 1 << 20 }), c)
		if c.Hits() != 0 || c.Puts() != 1 {
			t.Fatalf("another manifest bound: %d hits, %d stores; want a miss", c.Hits(), c.Puts())
		}
		// Zero limits are the defaults: the same render.
		render(t, baseChart, with(func(o *Options) {
			o.Limits = Limits{Timeout: DefaultTimeout, MaxManifestBytes: DefaultMaxManifestBytes, MaxMemoryBytes: DefaultMaxMemoryBytes}
		}), c)
		if c.Hits() != 1 {
			t.Fatalf("the default limits spelt out: %d hits, want 1", c.Hits())
		}
	})
}

// TestCachedRenderFailuresAndCorruption checks that failed renders are
// not stored, and that an entry that does not decode is rendered again
// and replaced.
func TestCachedRenderFailuresAndCorruption(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := openCounting(t, dir, "t")
	ch := loadFiles(t, cacheChartFiles)

	// A failure is not stored: the same inputs render (and fail) again.
	bad := Options{Values: map[string]any{"big": int64(1)}, Cache: c, Limits: Limits{MaxManifestBytes: 10}}
	for range 2 {
		if _, err := Render(ctx, ch, bad); err == nil {
			t.Fatal("a render over its manifest bound succeeded")
		}
	}
	if c.Puts() != 0 || c.Hits() != 0 {
		t.Fatalf("failed renders: %d stores, %d hits; want none", c.Puts(), c.Hits())
	}

	opts := Options{Values: map[string]any{"big": int64(1)}, Cache: c}
	want, err := Render(ctx, ch, opts)
	if err != nil {
		t.Fatal(err)
	}
	key, err := cacheKey(ch, withRenderDefaults(ch, opts))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Put(key, []byte("not a render")); err != nil {
		t.Fatal(err)
	}
	c.ResetCounts()
	got, err := Render(ctx, ch, opts)
	if err != nil || !reflect.DeepEqual(got, want) || c.Puts() != 1 {
		t.Fatalf("over an entry that does not decode: %v, %d stores, equal: %v; want a render, stored", err, c.Puts(), reflect.DeepEqual(got, want))
	}
	start := time.Now()
	if _, err := Render(ctx, ch, opts); err != nil || c.Hits() < 2 {
		t.Fatalf("after the entry was replaced: %v, %d hits", err, c.Hits())
	}
	t.Logf("a cached render took %v", time.Since(start))
}

// TestCacheKeyCoversEveryOption changes each field of Options in turn,
// found by reflection, and requires the cache key to change: a field
// added to Options and left out of cacheKey fails here.
func TestCacheKeyCoversEveryOption(t *testing.T) {
	ch := loadFiles(t, cacheChartFiles)
	base := Options{Values: map[string]any{"big": int64(1)}}
	baseKey, err := CacheKey(ch, base)
	if err != nil {
		t.Fatal(err)
	}
	var perturb func(t *testing.T, path string, v reflect.Value, check func(string))
	perturb = func(t *testing.T, path string, v reflect.Value, check func(string)) {
		switch v.Kind() {
		case reflect.String:
			old := v.String()
			v.SetString(old + "x")
			check(path)
			v.SetString(old)
		case reflect.Bool:
			v.SetBool(!v.Bool())
			check(path)
			v.SetBool(!v.Bool())
		case reflect.Int64:
			old := v.Int()
			v.SetInt(old + 1)
			check(path)
			v.SetInt(old)
		case reflect.Slice:
			old := v.Interface()
			v.Set(reflect.Append(v, reflect.ValueOf("example.com/v9").Convert(v.Type().Elem())))
			check(path)
			v.Set(reflect.ValueOf(old))
		case reflect.Map:
			old := v.Interface()
			m := reflect.MakeMap(v.Type())
			for _, k := range v.MapKeys() {
				m.SetMapIndex(k, v.MapIndex(k))
			}
			m.SetMapIndex(reflect.ValueOf("perturbed"), reflect.ValueOf(int64(1)))
			v.Set(m)
			check(path)
			v.Set(reflect.ValueOf(old))
		case reflect.Struct:
			for i := range v.NumField() {
				perturb(t, path+"."+v.Type().Field(i).Name, v.Field(i), check)
			}
		default:
			t.Errorf("Options%s: a %s field this test cannot change: teach it, and cacheKey, about it", path, v.Kind())
		}
	}
	opts := base
	v := reflect.ValueOf(&opts).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if f.Name == "Cache" {
			continue // where renders are kept, not what they are
		}
		perturb(t, "."+f.Name, v.Field(i), func(path string) {
			k, err := CacheKey(ch, opts)
			if err != nil {
				t.Fatalf("Options%s changed: %v", path, err)
			}
			if k == baseKey {
				t.Errorf("changing Options%s leaves the cache key as it was: add it to cacheKey", path)
			}
		})
	}
	if k, _ := CacheKey(ch, base); k != baseKey {
		t.Fatal("the test did not restore the options")
	}
}
