//go:build linux

package watcher

import (
	"time"

	"github.com/clsync-go/clsync/event"
)

// pendingMove is an IN_MOVED_FROM waiting for the IN_MOVED_TO with the same
// cookie.
type pendingMove struct {
	cookie   uint32
	parent   *node
	name     string
	rel      string // at the time of the event, in case parent goes away
	node     *node  // for a directory: the node at the name then, checked before use (see identify)
	isDir    bool
	mask     uint32
	deadline time.Time
	paired   bool
	seq      uint64 // arrival order, for Quiesce
}

// atSource tells whether the moved directory's node is still where the
// IN_MOVED_FROM left it (a walk may have found it elsewhere since).
func (m *pendingMove) atSource() bool {
	n := m.node
	return n != nil && n.attached() && n.parent == m.parent && n.name == m.name
}

func (w *treeWatcher) removeEvent(m *pendingMove) event.Event {
	rel := m.rel
	if m.parent.attached() {
		rel = w.relPath(m.parent, m.name)
	}
	return event.Event{Path: rel, Op: event.Remove, IsDir: m.isDir, Mask: m.mask}
}

// moveTable holds the pending halves by cookie and in arrival order (which is
// deadline order, as every half waits equally long).
type moveTable struct {
	byCookie map[uint32]*pendingMove
	order    []*pendingMove
}

func (t *moveTable) add(m *pendingMove) {
	if t.byCookie == nil {
		t.byCookie = make(map[uint32]*pendingMove)
	}
	t.byCookie[m.cookie] = m
	t.order = append(t.order, m)
}

func (t *moveTable) take(cookie uint32) *pendingMove {
	m := t.byCookie[cookie]
	if m != nil {
		delete(t.byCookie, cookie)
		m.paired = true
	}
	return m
}

// expired removes and returns the unpaired halves whose deadline is not after
// t; all of them when all is set.
func (t *moveTable) expired(at time.Time, all bool) []*pendingMove {
	var out []*pendingMove
	for len(t.order) > 0 {
		m := t.order[0]
		if !m.paired {
			if !all && m.deadline.After(at) {
				break
			}
			if t.byCookie[m.cookie] == m {
				delete(t.byCookie, m.cookie)
			}
			out = append(out, m)
		}
		t.order[0] = nil
		t.order = t.order[1:]
	}
	return out
}

// next returns the earliest deadline of an unpaired half.
func (t *moveTable) next() (time.Time, bool) {
	for len(t.order) > 0 && t.order[0].paired {
		t.order[0] = nil
		t.order = t.order[1:]
	}
	if len(t.order) == 0 {
		return time.Time{}, false
	}
	return t.order[0].deadline, true
}

// pendingUpTo tells whether a half that arrived as seq or before is still
// waiting for its partner.
func (t *moveTable) pendingUpTo(seq uint64) bool {
	// Not in seq order throughout: expireMoves puts back a half it cannot
	// decide yet.
	for _, m := range t.order {
		if m.seq <= seq && !m.paired {
			return true
		}
	}
	return false
}
