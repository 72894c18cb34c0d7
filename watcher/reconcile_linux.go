//go:build linux

package watcher

import (
	"github.com/clsync-go/clsync/event"
)

// takeReconciles starts one reconcile job for the Reconcile calls made
// since the last time.
func (w *treeWatcher) takeReconciles() {
	calls := w.take(&w.newReconciles)
	if len(calls) == 0 {
		return
	}
	j := w.newJob(jobReconcile, event.Event{})
	j.waiters = calls
	w.push(walkItem{job: j, top: true})
}

// reconciled reports what a reconcile job found: a Rescan of each directory
// that became walked or monitored, but not of one below another, and
// answers its callers once that is delivered.
func (w *treeWatcher) reconciled(j *job) {
	found := make(map[*node]bool, len(j.rescans))
	for _, n := range j.rescans {
		found[n] = true
	}
	for _, n := range j.rescans {
		covered := !n.attached()
		for a := n.parent; a != nil && !covered; a = a.parent {
			covered = found[a]
		}
		if !covered {
			w.emitIn(n.parent, event.Event{Path: w.relPath(n, ""), Op: event.Rescan, IsDir: true})
		}
	}
	for _, reply := range j.waiters {
		// A barrier at what has been read: answered after the flush that
		// delivers the Rescans.
		w.barriers = append(w.barriers, &barrier{reply: reply, bytes: w.consumed})
	}
}
