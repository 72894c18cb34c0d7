package aggregator

import (
	"strings"
	"time"

	"github.com/clsync-go/clsync/event"
)

// node is one tracked path. A node lives while it or a descendant is queued
// (n > 0), so the tree holds only the queued paths and their ancestors, and
// finding what a Rescan covers costs no scan of the queue.
type node struct {
	path   string // a substring of an event's path: no copy
	parent *node

	// Children form an intrusive doubly linked list: linking, unlinking and
	// walking them cost no map per directory.
	kids       *node
	prev, next *node
	nkids      int
	n          int // queued entries in this subtree, this node included

	queued       bool
	q            Queue
	qprev, qnext *node // the queue's list
	op           event.Op
	isDir        bool
	mask         uint32
}

func (p *node) link(k *node) {
	k.next = p.kids
	if p.kids != nil {
		p.kids.prev = k
	}
	p.kids = k
	p.nkids++
}

func (p *node) unlink(k *node) {
	if k.prev != nil {
		k.prev.next = k.next
	} else {
		p.kids = k.next
	}
	if k.next != nil {
		k.next.prev = k.prev
	}
	k.prev, k.next = nil, nil
	p.nkids--
}

// queue is one of clsync's queues: an intrusive list of queued nodes and the
// time its first event entered it (clsync's stime), meaningful while len > 0.
type queue struct {
	head  *node
	len   int
	first time.Time
	delay time.Duration
}

func (q *queue) push(nd *node) {
	nd.qprev, nd.qnext = nil, q.head
	if q.head != nil {
		q.head.qprev = nd
	}
	q.head = nd
	q.len++
}

func (q *queue) remove(nd *node) {
	if nd.qprev != nil {
		nd.qprev.qnext = nd.qnext
	} else {
		q.head = nd.qnext
	}
	if nd.qnext != nil {
		nd.qnext.qprev = nd.qprev
	}
	nd.qprev, nd.qnext = nil, nil
	q.len--
	if q.len == 0 {
		// clsync clears stime when a queue empties: the next event
		// starts a new collection.
		q.first = time.Time{}
	}
}

// parentPath returns the directory of a non-root relative path.
func parentPath(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// locate returns p's node if it is tracked; otherwise the nearest tracked
// ancestor (nil if the tree is empty), leaving in c.missing the paths from
// p up to, not including, that ancestor.
func (c *Core) locate(p string) (nd, anc *node) {
	if nd := c.nodes[p]; nd != nil {
		return nd, nil
	}
	c.missing = append(c.missing[:0], p)
	for cur := p; cur != ""; {
		cur = parentPath(cur)
		if a := c.nodes[cur]; a != nil {
			return nil, a
		}
		c.missing = append(c.missing, cur)
	}
	return nil, nil
}

// create tracks the paths locate left in c.missing below anc and returns
// the deepest one (the located path). The new nodes have n == 0 until the
// caller queues the last one.
func (c *Core) create(anc *node) *node {
	parent := anc
	for i := len(c.missing) - 1; i >= 0; i-- {
		nd := &node{path: c.missing[i], parent: parent}
		if parent != nil {
			parent.link(nd)
		}
		c.nodes[nd.path] = nd
		parent = nd
	}
	clear(c.missing)
	c.missing = c.missing[:0]
	return parent
}
