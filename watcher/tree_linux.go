//go:build linux

package watcher

import (
	"errors"
	"iter"

	"golang.org/x/sys/unix"
)

// node is one watched directory. The nodes form a tree mirroring the watched
// directories. There is one per directory of a tree that may hold millions,
// so a node keeps only what cannot be derived, in 64 bytes (an allocator
// size class): its path is built by walking up to the root when an event or
// a walk step needs it (see relPath), which costs a few pointer hops where a
// cached path would cost its bytes on every directory, and a rename moves
// one node instead of rewriting the paths of the whole subtree.
type node struct {
	parent *node // nil for the root
	name   string
	// first and next link the children of a directory that has at most
	// maxListedChildren of them, in no particular order; a bigger
	// directory keeps them in Watcher.bigDirs instead (see addChild).
	first, next *node
	// ino and dev identify the directory, to tell whether its path in the
	// tree is stale (see openItem). dev is 32 bits wide because the kernel
	// encodes st_dev in 32 bits (new_encode_dev).
	ino uint64
	// mark is bit 0: attached (see attached), bit 1: monitored (see
	// monitored), and above them the id of the last walk job that listed
	// this directory (see visitedBy); one word for all keeps a node within
	// 64 bytes.
	mark uint64
	wd   int32
	dev  uint32
}

const (
	attachedBit  = 1
	monitoredBit = 2
	jobShift     = 2
)

// attached is false once the directory left the tree (deleted, moved out,
// pruned, unmounted). Its wd stays in Watcher.wds until the kernel's
// IN_IGNORED, and events still queued for it are dropped.
func (n *node) attached() bool { return n.mark&attachedBit != 0 }

func (n *node) detach() { n.mark &^= attachedBit }

// monitored tells whether the changes in this directory are reported
// (Options.Monitor, decided when the directory was last walked).
func (n *node) monitored() bool { return n.mark&monitoredBit != 0 }

func (n *node) setMonitored(on bool) {
	if on {
		n.mark |= monitoredBit
	} else {
		n.mark &^= monitoredBit
	}
}

// visitedBy tells whether walk job j listed this directory already, so that
// a job lists each directory once even if it is reachable twice (bind
// mounts) or queued twice (renamed during the job).
func (n *node) visitedBy(j *job) bool { return n.mark>>jobShift == j.id }

func (n *node) visit(j *job) { n.mark = j.id<<jobShift | n.mark&(attachedBit|monitoredBit) }

// appendRel appends n's path relative to the root ("" for the root).
func (n *node) appendRel(b []byte) []byte {
	if n.parent == nil {
		return b
	}
	if n.parent.parent != nil {
		b = append(n.parent.appendRel(b), '/')
	}
	return append(b, n.name...)
}

// relPath returns the path relative to the root of name in directory n, or
// of n itself when name is "". It is built in w.scratch so that the string
// is its only allocation.
func (w *treeWatcher) relPath(n *node, name string) string {
	b := n.appendRel(w.scratch[:0])
	if name != "" {
		if len(b) > 0 {
			b = append(b, '/')
		}
		b = append(b, name...)
	}
	w.scratch = b
	return string(b)
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func (n *node) isAncestorOf(d *node) bool {
	for ; d != nil; d = d.parent {
		if d == n {
			return true
		}
	}
	return false
}

// maxListedChildren bounds the children kept in a node's list: a lookup by
// name scans the list, which costs less than a map's lookup and far less
// than a map's memory (a few hundred bytes even for one child) while it is
// short; past it the children move to a map, so that a directory with
// thousands of subdirectories is not walked in quadratic time.
const maxListedChildren = 32

// child returns the watched subdirectory name of p, or nil.
func (w *treeWatcher) child(p *node, name string) *node {
	if m := w.bigDirs[p]; m != nil {
		return m[name]
	}
	for c := p.first; c != nil; c = c.next {
		if c.name == name {
			return c
		}
	}
	return nil
}

// addChild adds c, whose parent and name are set, to the children of its
// parent, which has no child of that name (the callers drop it first).
func (w *treeWatcher) addChild(c *node) {
	p := c.parent
	if m := w.bigDirs[p]; m != nil {
		m[c.name] = c
		return
	}
	count := 0
	for x := p.first; x != nil; x = x.next {
		count++
	}
	if count < maxListedChildren {
		c.next, p.first = p.first, c
		return
	}
	m := make(map[string]*node, count+1)
	for x := p.first; x != nil; {
		next := x.next
		x.next = nil
		m[x.name] = x
		x = next
	}
	p.first = nil
	m[c.name] = c
	if w.bigDirs == nil {
		w.bigDirs = make(map[*node]map[string]*node)
	}
	w.bigDirs[p] = m
}

// unlink takes n out of the children of its parent, if it is among them.
// A directory that was moved to the map stays there until it is empty:
// children may be dropped while children ranges over them.
func (w *treeWatcher) unlink(n *node) {
	p := n.parent
	if p == nil {
		return
	}
	if m := w.bigDirs[p]; m != nil {
		if m[n.name] == n {
			delete(m, n.name)
			if len(m) == 0 {
				delete(w.bigDirs, p)
			}
		}
		return
	}
	for link := &p.first; *link != nil; link = &(*link).next {
		if *link == n {
			*link, n.next = n.next, nil
			return
		}
	}
}

func (w *treeWatcher) hasChildren(p *node) bool { return p.first != nil || w.bigDirs[p] != nil }

// children ranges over the watched subdirectories of p. The body may drop
// the child it is given.
func (w *treeWatcher) children(p *node) iter.Seq[*node] {
	return func(yield func(*node) bool) {
		if m := w.bigDirs[p]; m != nil {
			for _, c := range m {
				if !yield(c) {
					return
				}
			}
			return
		}
		for c := p.first; c != nil; {
			next := c.next
			if !yield(c) {
				return
			}
			c = next
		}
	}
}

// adopt records that the directory name in parent (parent nil: the root) is
// now watched as wd, and returns its node. The kernel returns the existing wd
// when an inode is watched already, so a known wd found at another place
// means the directory moved there (events about it may still be queued, or
// were lost in an overflow); the file system is the truth, so the node moves.
// adopt returns nil when the directory was already listed by job j at another
// place or is an ancestor of its new place: one inode reachable at two paths
// (a bind mount), which can only be watched under one of them.
func (w *treeWatcher) adopt(wd int32, parent *node, name string, j *job) *node {
	if parent == nil {
		// The root is watched first, by New; later walks check that they
		// reach the same inode (see step).
		if w.root == nil {
			w.root = &node{wd: wd, mark: attachedBit | monitoredBit, ino: w.pin.Ino, dev: uint32(w.pin.Dev)}
			w.setWd(w.root)
		}
		return w.root
	}
	if n := w.wds.get(wd); n != nil && n.attached() {
		if n.parent == parent && n.name == name {
			return n
		}
		if n.visitedBy(j) || n.isAncestorOf(parent) {
			w.log.Warn("directory is reachable at two paths; it is watched at one only",
				"path", w.abs(w.relPath(parent, name)), "watched_at", w.abs(w.relPath(n, "")))
			return nil
		}
		w.move(n, parent, name)
		return n
	}
	if old := w.child(parent, name); old != nil {
		w.drop(old)
	}
	n := &node{wd: wd, parent: parent, name: name, mark: attachedBit}
	w.addChild(n)
	w.setWd(n)
	if w.trace {
		w.log.Debug("watch", "wd", wd, "path", w.relPath(n, ""))
	}
	return n
}

// move re-parents n, which keeps its wd: every event queued for n or its
// descendants resolves to the new path from now on.
func (w *treeWatcher) move(n, parent *node, name string) {
	w.reshaped++
	// Unlinked first: what it replaces may be its old ancestor (the walk
	// can see the disk ahead of the queued events), whose drop must not
	// take n along.
	w.unlink(n)
	if old := w.child(parent, name); old != nil && old != n {
		w.drop(old)
	}
	if w.trace {
		w.log.Debug("move watch", "wd", n.wd, "from", w.relPath(n, ""), "to", w.relPath(parent, name))
	}
	n.parent, n.name = parent, name
	w.addChild(n)
}

// drop takes n and its subtree out of the tree and removes their watches.
func (w *treeWatcher) drop(n *node) {
	if !n.attached() {
		return
	}
	w.reshaped++
	if w.trace {
		w.log.Debug("unwatch", "wd", n.wd, "path", w.relPath(n, ""))
	}
	w.unlink(n)
	w.release(n)
}

func (w *treeWatcher) release(n *node) {
	n.detach()
	for c := range w.children(n) {
		c.next = nil
		w.release(c)
	}
	n.first = nil
	delete(w.bigDirs, n)
	if w.trace {
		w.log.Debug("rm_watch", "wd", n.wd, "path", w.relPath(n, ""))
	}
	// EINVAL: the kernel has already destroyed this watch and queued its
	// IN_IGNORED (or lost it in an overflow), so no event can name this wd
	// any more and forgetting it now loses nothing. Otherwise the
	// IN_IGNORED that rm_watch queues is when it is forgotten.
	if err := w.rmWatch(n.wd); errors.Is(err, unix.EINVAL) {
		w.forget(n)
	} else if w.wds.get(n.wd) == n {
		if w.awaitIgnored == nil {
			w.awaitIgnored = make(map[*node]struct{})
		}
		w.awaitIgnored[n] = struct{}{}
	}
}

func (w *treeWatcher) setWd(n *node) {
	if old := w.wds.get(n.wd); old == nil {
		w.nwatches.Add(1)
	} else {
		delete(w.awaitIgnored, old)
	}
	w.wds.set(n)
}

func (w *treeWatcher) forget(n *node) {
	delete(w.awaitIgnored, n)
	if w.wds.get(n.wd) == n {
		w.wds.delete(n.wd)
		w.nwatches.Add(-1)
	}
}

// reapDetached forgets the detached nodes whose IN_IGNORED an overflow may
// have lost; see release. It visits only those (awaitIgnored), not the
// whole wd table: a storm on a huge tree may overflow on every read. It
// returns how many it forgot.
func (w *treeWatcher) reapDetached() int {
	n := len(w.awaitIgnored)
	for d := range w.awaitIgnored {
		w.forget(d)
	}
	return n
}

func (w *treeWatcher) rmWatch(wd int32) error {
	if w.fan != nil {
		return w.fan.rmWatch(wd)
	}
	if w.opts.Kernel != nil {
		return w.opts.Kernel.RemoveWatch(wd)
	}
	_, err := unix.InotifyRmWatch(w.fd, uint32(wd))
	return err
}
