//go:build linux

package watcher

import (
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/clsync-go/clsync/event"
)

// swappable rules: which top-level names are not walked, which not
// monitored.
type testRules struct {
	noWalk, noMonitor atomic.Pointer[string]
}

func (r *testRules) set(noWalk, noMonitor string) {
	r.noWalk.Store(&noWalk)
	r.noMonitor.Store(&noMonitor)
}

func top(rel string) string { name, _, _ := strings.Cut(rel, "/"); return name }

func (r *testRules) walk(rel string) bool    { return top(rel) != *r.noWalk.Load() }
func (r *testRules) monitor(rel string) bool { return top(rel) != *r.noMonitor.Load() }

// A directory that is walked but not monitored is watched (so that the
// tree below it is followed) and its changes are not reported; one that is
// not walked is not watched at all.
func TestMonitorOnlyReports(t *testing.T) {
	root := t.TempDir()
	mkdirAll(t, filepath.Join(root, "quiet/sub"))
	mkdirAll(t, filepath.Join(root, "gone/sub"))
	mkdirAll(t, filepath.Join(root, "live"))
	rules := &testRules{}
	rules.set("gone", "quiet")
	r := start(t, root, Options{Walk: rules.walk, Monitor: rules.monitor})
	if got := r.w.watches(); got != 4 {
		t.Fatalf("Watches() = %d, want 4 (root, quiet, quiet/sub, live)", got)
	}
	n := len(r.all)
	writeFile(t, filepath.Join(root, "quiet/sub/f"), "x")
	writeFile(t, filepath.Join(root, "gone/sub/f"), "x")
	writeFile(t, filepath.Join(root, "live/f"), "x")
	r.wait("the change in a monitored directory", is("live/f", event.Create, false))
	r.barrier()
	if evs := r.since(n); has(evs, func(ev event.Event) bool {
		return strings.HasPrefix(ev.Path, "quiet/") || strings.HasPrefix(ev.Path, "gone/")
	}) {
		t.Errorf("changes reported from directories not monitored:\n%s", dump(evs))
	}
	// Renamed within the unmonitored directory: followed all the same.
	rename(t, filepath.Join(root, "quiet/sub"), filepath.Join(root, "quiet/sub2"))
	r.barrier()
	checkTree(t, r, rules.walk)
}

// Reconcile applies changed rules: directories newly walked are watched,
// those no longer walked dropped, and each directory that became walked or
// monitored is reported with a Rescan, since its changes were not.
func TestReconcile(t *testing.T) {
	root := t.TempDir()
	mkdirAll(t, filepath.Join(root, "quiet/sub"))
	mkdirAll(t, filepath.Join(root, "gone/sub/deeper"))
	mkdirAll(t, filepath.Join(root, "live"))
	rules := &testRules{}
	rules.set("gone", "quiet")
	r := start(t, root, Options{Walk: rules.walk, Monitor: rules.monitor})
	writeFile(t, filepath.Join(root, "quiet/sub/unreported"), "x")
	writeFile(t, filepath.Join(root, "gone/sub/unseen"), "x")
	r.barrier()

	rules.set("", "")
	n := len(r.all)
	r.reconcile()
	evs := r.since(n)
	for _, p := range []string{"quiet", "gone"} {
		if !has(evs, is(p, event.Rescan, true)) {
			t.Errorf("no Rescan of %s after it became walked and monitored:\n%s", p, dump(evs))
		}
	}
	if has(evs, func(ev event.Event) bool { return ev.Path == "live" || strings.Contains(ev.Path, "/") }) {
		t.Errorf("Rescans beyond what changed status:\n%s", dump(evs))
	}
	r.waitWatches(7)
	writeFile(t, filepath.Join(root, "gone/sub/deeper/f"), "x")
	r.wait("a change in a directory newly walked", is("gone/sub/deeper/f", event.Create, false))
	writeFile(t, filepath.Join(root, "quiet/g"), "x")
	r.wait("a change in a directory newly monitored", is("quiet/g", event.Create, false))

	r.barrier()
	rules.set("gone", "quiet")
	n = len(r.all)
	r.reconcile()
	r.waitWatches(4) // the kernel's IN_IGNORED for the dropped watches comes after
	writeFile(t, filepath.Join(root, "quiet/h"), "x")
	writeFile(t, filepath.Join(root, "gone/h"), "x")
	writeFile(t, filepath.Join(root, "live/h"), "x")
	r.wait("the change in a monitored directory", is("live/h", event.Create, false))
	r.barrier()
	if evs := r.since(n); has(evs, func(ev event.Event) bool {
		return strings.HasPrefix(ev.Path, "quiet/") || strings.HasPrefix(ev.Path, "gone/")
	}) {
		t.Errorf("changes reported from directories the new rules exclude:\n%s", dump(evs))
	}
	checkTree(t, r, rules.walk)
}

// reconcile calls Reconcile while it keeps reading events, then takes what
// was delivered before it returned.
func (r *rec) reconcile() {
	r.t.Helper()
	r.during(func() error { return r.w.reconcile(context.Background()) })
}
