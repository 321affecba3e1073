// Package render loads Helm charts and renders them client-side with the
// Helm v4 SDK, the way helm-controller installs them, without contacting a
// cluster or the network. It also runs Helm's linter on chart directories.
//
// The CLI uses it to check the charts it ships and to expand Flux
// HelmReleases offline.
//
// # Bounds
//
// A chart is input, and input is hostile: a template can loop for ever
// ({{ range until 100000000 }}...) or write gigabytes. Helm v4.2.4's
// pkg/engine cannot be stopped once it runs: Engine.Render takes no context,
// executes every template with text/template into a strings.Builder of its
// own (engine.go, Engine.render), and offers no writer or hook that a
// caller could use to cut a template short. So Render executes the
// templates in a child process, the running binary started again with
// GITOPS_LOCAL_RENDER_CHILD set (see the init function of child.go), and
// kills it at Limits.Timeout. The child limits its own memory to
// Limits.MaxMemoryBytes (a watchdog on the Go runtime's memory, and on
// Linux RLIMIT_DATA for allocations too large for the watchdog to see in
// time), refuses to return more than Limits.MaxManifestBytes of manifests,
// and dies with its parent. The parent reads at most a bounded answer.
//
// The other design, rendering on a goroutine that the build abandons at the
// deadline, bounds only the caller's wait: the goroutine keeps running and
// allocating until the process exits, so a template writing gigabytes still
// kills the process, and a long-running watch would accumulate abandoned
// renders. A process is the unit the operating system lets us stop and
// bound. Starting one costs more than most renders (about 50 ms of CPU,
// the binary's pages again), so render processes are kept, idle, between
// renders (pool.go): each renders one chart at a time, gives back its
// memory after each, and one that fails, overruns or is cancelled is
// killed, never reused. Builds also share renders through the gitops
// render cache.
//
// Helm renders every template of a chart in one call, so when a render is
// stopped the template that was running cannot be named: the error names
// the chart, and the caller names the release.
package render
