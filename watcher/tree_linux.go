//go:build linux

package watcher

import (
	"errors"

	"golang.org/x/sys/unix"
)

// node is one watched directory. The nodes form a tree mirroring the watched
// directories; each caches its path so that resolving an event's wd costs one
// map lookup, and a rename rewrites the cached paths of the moved subtree.
type node struct {
	wd       int
	parent   *node // nil for the root
	name     string
	rel      string           // path relative to the root, "" for the root
	children map[string]*node // watched subdirectories by name
	// attached is false once the directory left the tree (deleted, moved
	// out, pruned, unmounted). Its wd stays in Watcher.wds until the
	// kernel's IN_IGNORED, and events still queued for it are dropped.
	attached bool
	// dev and ino identify the directory, to tell whether its cached path
	// is stale (see openItem).
	dev, ino uint64
	// visited is the id of the last walk job that listed this directory,
	// so that a job lists each directory once even if it is reachable
	// twice (bind mounts) or queued twice (renamed during the job).
	visited uint64
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func (n *node) setRel(rel string) {
	n.rel = rel
	for _, c := range n.children {
		c.setRel(join(rel, c.name))
	}
}

func (n *node) isAncestorOf(d *node) bool {
	for ; d != nil; d = d.parent {
		if d == n {
			return true
		}
	}
	return false
}

func (n *node) addChild(c *node) {
	if n.children == nil {
		n.children = make(map[string]*node)
	}
	n.children[c.name] = c
}

func (n *node) unlink() {
	if n.parent != nil && n.parent.children[n.name] == n {
		delete(n.parent.children, n.name)
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
func (w *Watcher) adopt(wd int, parent *node, name string, j *job) *node {
	if parent == nil {
		// The root is watched first, by New; later walks check that they
		// reach the same inode (see step).
		if w.root == nil {
			w.root = &node{wd: wd, attached: true, dev: w.rootDev, ino: w.rootIno}
			w.setWd(w.root)
		}
		return w.root
	}
	if n := w.wds[wd]; n != nil && n.attached {
		if n.parent == parent && n.name == name {
			return n
		}
		if n.visited == j.id || n.isAncestorOf(parent) {
			w.log.Warn("directory is reachable at two paths; it is watched at one only",
				"path", w.abs(join(parent.rel, name)), "watched_at", w.abs(n.rel))
			return nil
		}
		w.move(n, parent, name)
		return n
	}
	if old := parent.children[name]; old != nil {
		w.drop(old)
	}
	n := &node{wd: wd, parent: parent, name: name, rel: join(parent.rel, name), attached: true}
	parent.addChild(n)
	w.setWd(n)
	if w.trace {
		w.log.Debug("watch", "wd", wd, "path", n.rel)
	}
	return n
}

// move re-parents n, which keeps its wd: every event queued for n or its
// descendants resolves to the new path from now on.
func (w *Watcher) move(n, parent *node, name string) {
	// Unlinked first: what it replaces may be its old ancestor (the walk
	// can see the disk ahead of the queued events), whose drop must not
	// take n along.
	n.unlink()
	if old := parent.children[name]; old != nil && old != n {
		w.drop(old)
	}
	if w.trace {
		w.log.Debug("move watch", "wd", n.wd, "from", n.rel, "to", join(parent.rel, name))
	}
	n.parent, n.name = parent, name
	parent.addChild(n)
	n.setRel(join(parent.rel, name))
}

// drop takes n and its subtree out of the tree and removes their watches.
func (w *Watcher) drop(n *node) {
	if !n.attached {
		return
	}
	if w.trace {
		w.log.Debug("unwatch", "wd", n.wd, "path", n.rel)
	}
	n.unlink()
	w.release(n)
}

func (w *Watcher) release(n *node) {
	n.attached = false
	for _, c := range n.children {
		w.release(c)
	}
	n.children = nil
	if w.trace {
		w.log.Debug("rm_watch", "wd", n.wd, "path", n.rel)
	}
	// EINVAL: the kernel has already destroyed this watch and queued its
	// IN_IGNORED (or lost it in an overflow), so no event can name this wd
	// any more and forgetting it now loses nothing. Otherwise the
	// IN_IGNORED that rm_watch queues is when it is forgotten.
	if _, err := unix.InotifyRmWatch(w.fd, uint32(n.wd)); errors.Is(err, unix.EINVAL) {
		w.forget(n)
	}
}

func (w *Watcher) setWd(n *node) {
	if w.wds[n.wd] == nil {
		w.watches.Add(1)
	}
	w.wds[n.wd] = n
}

func (w *Watcher) forget(n *node) {
	if w.wds[n.wd] == n {
		delete(w.wds, n.wd)
		w.watches.Add(-1)
	}
}

// reapDetached forgets the detached nodes whose IN_IGNORED an overflow may
// have lost; see release.
func (w *Watcher) reapDetached() {
	for _, n := range w.wds {
		if !n.attached {
			w.release(n)
		}
	}
}
