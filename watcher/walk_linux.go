//go:build linux

package watcher

import (
	"bytes"
	"encoding/binary"
	"errors"
	"time"

	"github.com/clsync-go/clsync/event"
	"github.com/clsync-go/clsync/internal/beneath"
	"golang.org/x/sys/unix"
)

type jobKind uint8

const (
	// jobInitial is New's walk: the caller's initial sync covers the tree,
	// so its end is not reported.
	jobInitial jobKind = iota
	// jobDir watches a new, moved-in or re-exposed directory and reports
	// done once its whole subtree is watched.
	jobDir
	// jobOverflow repairs the watches after an overflow and reports a root
	// Rescan once every directory is watched again.
	jobOverflow
	// jobReconcile applies changed rules (see Reconcile): it walks the
	// tree and reports a Rescan of each directory that became walked or
	// monitored.
	jobReconcile
)

func (k jobKind) String() string { return [...]string{"initial", "dir", "overflow", "reconcile"}[k] }

// A job walks one subtree. A walk is split into steps (one directory each)
// so that the reader keeps draining the inotify queue between them.
//
// What a job reports is emitted only when its last step is done: a Rescan
// tells the consumer that a sync starting after it sees every change, and
// that holds only once every directory of the subtree is watched (a change
// made before its watch existed is then seen by that sync, one made after is
// reported by an event).
type job struct {
	id      uint64
	kind    jobKind
	pending int         // steps queued and not done yet
	done    event.Event // for jobDir: reported at top's path then
	top     *node       // for jobDir: the directory the job was started for, once watched
	// For jobReconcile: the directories whose changes were not reported
	// and now are, and the Reconcile calls waiting for the job.
	rescans []*node
	waiters []chan struct{}
}

// walkItem is one step: watch and list the directory name in parent (parent
// nil: the root). It names the directory through its parent's node, not by
// path, so a rename of an ancestor before the step runs is followed.
type walkItem struct {
	parent   *node
	name     string
	job      *job
	deferral *deferral // nil until the step is deferred (see deferItem)
	top      bool      // this is the directory the job was started for
}

// deferral is kept apart from walkItem because few steps are ever deferred,
// and a walk of a wide directory queues a step for every subdirectory.
type deferral struct {
	since time.Time // first deferred
	at    time.Time // last deferred
}

// itemRel returns the path of the directory of step it.
func (w *treeWatcher) itemRel(it walkItem) string {
	if it.parent == nil {
		return ""
	}
	return w.relPath(it.parent, it.name)
}

// walkChunk bounds the steps done between two reads of the inotify queue.
const walkChunk = 64

// maxIdleStack bounds the steps whose room the walk queue keeps once it is
// empty: a wide directory queues a step per subdirectory, and that memory
// would otherwise stay with the watcher for good.
const maxIdleStack = 1024

func (w *treeWatcher) newJob(kind jobKind, done event.Event) *job {
	w.jobID++
	if w.trace {
		w.log.Debug("walk job", "job", w.jobID, "kind", kind, "path", done.Path)
	}
	j := &job{id: w.jobID, kind: kind, done: done}
	w.activeJobs[j] = struct{}{}
	return j
}

func (w *treeWatcher) push(it walkItem) {
	it.job.pending++
	w.stack = append(w.stack, it)
}

// newDir starts watching the directory name that appeared in parent and
// reports done when its subtree is watched. A directory excluded by Walk is
// reported as a plain directory Create.
func (w *treeWatcher) newDir(parent *node, name string, done event.Event) {
	if !w.walked(done.Path) {
		done.Op = (done.Op | event.Create) &^ event.Rescan
		w.emitIn(parent, done)
		return
	}
	w.push(walkItem{parent: parent, name: name, job: w.newJob(jobDir, done), top: true})
}

// walkSome does up to n steps.
func (w *treeWatcher) walkSome(n int) error {
	var err error
	if w.canProbe() && len(w.stack) >= minProbed {
		err = w.walkProbed(n)
	} else {
		err = w.walkSequential(n)
	}
	if len(w.stack) == 0 {
		if cap(w.stack) > maxIdleStack {
			w.stack = nil
		}
		// The probers' buffers (100 KiB) are for big walks only.
		w.probers, w.probes = nil, nil
	}
	return err
}

// walkSequential does up to n steps one by one.
func (w *treeWatcher) walkSequential(n int) error {
	for ; n > 0 && len(w.stack) > 0; n-- {
		it := w.stack[len(w.stack)-1]
		// Cleared so that the room left behind holds on to no node.
		w.stack[len(w.stack)-1] = walkItem{}
		w.stack = w.stack[:len(w.stack)-1]
		if err := w.step(it); err != nil {
			return err
		}
	}
	return nil
}

// step watches one directory, then lists it: the watch comes first so that
// whatever is created after the listing is reported by an event (the mkdir
// race). Subdirectories are queued as further steps of the same job, and
// watched subdirectories that are no longer listed are dropped.
func (w *treeWatcher) step(it walkItem) error {
	dfd, st, res, err := w.openItem(it)
	if err != nil {
		return err
	}
	if w.trace && it.parent != nil {
		w.log.Debug("walk step", "job", it.job.id, "path", w.itemRel(it), "result", res)
	}
	if res == stale {
		w.deferItem(it)
		return nil
	}
	if res == gone {
		w.stepDone(it.job)
		return nil
	}
	defer unix.Close(dfd)
	if it.parent != nil && w.opts.OneFileSystem && st.Dev != w.pin.Dev {
		if old := w.child(it.parent, it.name); old != nil {
			w.drop(old)
		}
		w.stepDone(it.job)
		return nil
	}
	wd, err := w.addWatch(dfd, &st, it)
	if errors.Is(err, unix.ESTALE) && it.parent == nil {
		return &RootError{Root: w.opts.Root, Reason: "root directory was replaced by another"}
	}
	if errors.Is(err, unix.ESTALE) {
		// The helper that adds the watch found another directory at the
		// path: as with a stale parent, the queued events explain it.
		w.deferItem(it)
		return nil
	}
	if err != nil {
		w.stepDone(it.job)
		return err
	}
	if it.parent == nil && w.root != nil && wd != w.root.wd {
		w.stepDone(it.job)
		return &RootError{Root: w.opts.Root, Reason: "root directory was replaced by another"}
	}
	return w.settleStep(it, wd, &st, dfd, nil)
}

// settleStep settles a step whose directory is watched as wd (see settle),
// unless that directory is a node the job listed elsewhere already and
// whose place in the tree is stale: the queued events tell first.
func (w *treeWatcher) settleStep(it walkItem, wd int32, st *unix.Stat_t, dfd int, probed []string) error {
	if n := w.wds.get(wd); n != nil && n.attached() && n.visitedBy(it.job) &&
		(n.parent != it.parent || n.name != it.name) && !n.isAncestorOf(it.parent) {
		// Renamed here since the job listed it (the rename's events are
		// still queued, or their halves were not paired): it moves,
		// with what the job listed below it. Only a directory still at
		// its place is one inode at two paths (a bind mount; see adopt).
		id, err := w.identify(n.parent, n.name, n)
		switch {
		case err != nil:
			w.stepDone(it.job)
			return err
		case id == elsewhere:
			w.move(n, it.parent, it.name)
		case id == unsure:
			w.deferItem(it)
			return nil
		}
	}
	defer w.stepDone(it.job)
	return w.settle(it, wd, st, dfd, probed)
}

// settle is the second half of a step, once its directory is watched as wd:
// the tree learns it, and its subdirectories are queued as steps of the same
// job: listed from dfd, or, for a probed step (dfd -1), those the probe
// listed.
func (w *treeWatcher) settle(it walkItem, wd int32, st *unix.Stat_t, dfd int, probed []string) error {
	var before *node // for a reconcile: the node here before, if any
	wasMonitored := false
	if it.job.kind == jobReconcile && it.parent != nil {
		if before = w.child(it.parent, it.name); before != nil {
			wasMonitored = before.monitored()
		}
	}
	n := w.adopt(wd, it.parent, it.name, it.job)
	if n == nil {
		return nil
	}
	if w.trace {
		w.log.Debug("walk adopt", "job", it.job.id, "wd", wd, "path", w.relPath(n, ""))
	}
	n.ino, n.dev = st.Ino, uint32(st.Dev)
	if it.top {
		it.job.top = n
	}
	if n.visitedBy(it.job) {
		return nil
	}
	n.visit(it.job)
	rel := ""
	if w.hasRules() {
		rel = w.relPath(n, "")
	}
	if it.parent != nil {
		n.setMonitored(w.monitors(rel))
		if it.job.kind == jobReconcile && n.monitored() && (before == nil && it.parent.monitored() || before == n && !wasMonitored) {
			// Became walked in a monitored directory, or monitored:
			// what changed in it meanwhile was never reported.
			it.job.rescans = append(it.job.rescans, n)
		}
	}
	// The subdirectories are queued straight from the listing, as steps
	// of this job; they double as the list of names to keep.
	from := len(w.stack)
	var err error
	if dfd < 0 {
		for _, name := range probed {
			w.stack = append(w.stack, walkItem{parent: n, name: name, job: it.job})
		}
	} else {
		err = w.subdirs(dfd, rel, func(name string) {
			w.stack = append(w.stack, walkItem{parent: n, name: name, job: it.job})
		})
	}
	if err != nil {
		clear(w.stack[from:])
		w.stack = w.stack[:from]
		if vanished(err) {
			// Removed while being listed (getdents fails with ENOENT on
			// a dead directory): its parent reports that.
			return nil
		}
		return w.watchError("scan", w.relPath(n, ""), err)
	}
	listed := w.stack[from:]
	it.job.pending += len(listed)
	if w.hasChildren(n) {
		names := make(map[string]bool, len(listed))
		for _, l := range listed {
			names[l.name] = true
		}
		for c := range w.children(n) {
			if !names[c.name] {
				w.drop(c)
			}
		}
	}
	return nil
}

type openResult uint8

const (
	opened openResult = iota
	gone              // not there: deleted, renamed, or not a directory any more
	stale             // the parent is not at its path in the tree: events about that are queued
)

func (r openResult) String() string { return [...]string{"opened", "gone", "stale"}[r] }

// openItem opens the directory of a step. The path of a node in the tree can
// be stale: a rename of an ancestor may be queued but not handled yet, and
// the path may then lead nowhere or to another directory. So the parent is opened by path
// and checked by inode, and the directory is opened relative to it: it is
// then in that parent by construction. A stale parent defers the step until
// the queued events have been handled.
func (w *treeWatcher) openItem(it walkItem) (int, unix.Stat_t, openResult, error) {
	var st unix.Stat_t
	if it.parent == nil {
		fd, err := w.openDir("")
		if err != nil {
			if vanished(err) {
				return -1, st, gone, &RootError{Root: w.opts.Root, Reason: "root directory was deleted or moved away"}
			}
			return -1, st, gone, w.watchError("open", "", err)
		}
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, st, gone, w.watchError("stat", "", err)
		}
		if !w.pin.Is(st.Dev, st.Ino) {
			unix.Close(fd)
			return -1, st, gone, &RootError{Root: w.opts.Root, Reason: "root directory was replaced by another"}
		}
		return fd, st, opened, nil
	}
	pfd, res, err := w.openParent(it.parent)
	if res != opened {
		return -1, st, res, err
	}
	defer unix.Close(pfd)
	fd, err := openat(pfd, w.cString(it.name), dirOpenFlags)
	if err != nil {
		if vanished(err) {
			return -1, st, gone, nil
		}
		return -1, st, gone, w.watchError("open", w.itemRel(it), err)
	}
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, st, gone, w.watchError("stat", w.itemRel(it), err)
	}
	return fd, st, opened, nil
}

// openParent opens the watched directory p by its path in the tree and
// checks that it is p's inode.
func (w *treeWatcher) openParent(p *node) (int, openResult, error) {
	if !p.attached() {
		return -1, gone, nil
	}
	var pfd int
	var err error
	if w.noOpenat2 {
		pfd, err = beneath.OpenDirByComponent(w.opts.Root, w.relPath(p, ""))
	} else {
		pfd, err = openBeneath(w.cPath(p))
	}
	if err != nil {
		if vanished(err) {
			return -1, stale, nil
		}
		return -1, gone, w.watchError("open", w.relPath(p, ""), err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil {
		unix.Close(pfd)
		return -1, gone, w.watchError("stat", w.relPath(p, ""), err)
	}
	if uint32(st.Dev) != p.dev || st.Ino != p.ino {
		unix.Close(pfd)
		return -1, stale, nil
	}
	return pfd, opened, nil
}

type identity uint8

const (
	same      identity = iota // n's directory is at the name
	elsewhere                 // something else or nothing is at the name
	unsure                    // the parent's path is stale: ask again after the queued events
)

// identify tells whether the directory of node n is the one at name in
// parent now, going by inode, to settle what an event naming it refers to.
func (w *treeWatcher) identify(parent *node, name string, n *node) (identity, error) {
	pfd, res, err := w.openParent(parent)
	switch {
	case err != nil:
		return unsure, err
	case res == gone:
		return elsewhere, nil
	case res == stale:
		return unsure, nil
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if vanished(err) {
			return elsewhere, nil
		}
		return unsure, w.watchError("stat", w.relPath(parent, name), err)
	}
	if uint32(st.Dev) == n.dev && st.Ino == n.ino {
		return same, nil
	}
	return elsewhere, nil
}

// deferStaleAfter bounds how long a step may wait for the events that
// explain its stale parent. Past it, the tree is out of step with the disk
// for a reason no queued event will fix, and a re-walk repairs it.
const deferStaleAfter = time.Second

// deferItem parks a step whose parent is stale until the queue has been
// seen empty after now (see retryDeferred).
func (w *treeWatcher) deferItem(it walkItem) {
	now := time.Now()
	if it.deferral == nil {
		it.deferral = &deferral{since: now}
	}
	if now.Sub(it.deferral.since) > deferStaleAfter {
		w.log.Warn("watch tree out of step with the disk; re-walking", "path", w.abs(w.itemRel(it)))
		w.rewalk.overflow(now)
		w.stepDone(it.job)
		return
	}
	it.deferral.at = now
	w.deferred = append(w.deferred, it)
}

// retryDeferred queues again the deferred steps parked before drainedAt: the
// events that made their parent's path stale have been handled since.
func (w *treeWatcher) retryDeferred() {
	keep := w.deferred[:0]
	for _, it := range w.deferred {
		if it.deferral.at.Before(w.drainedAt) {
			w.stack = append(w.stack, it)
		} else {
			keep = append(keep, it)
		}
	}
	clear(w.deferred[len(keep):])
	w.deferred = keep
}

// addWatch watches the directory of step it, open as dfd. Going through the
// descriptor puts the watch on exactly the directory that was reached
// without following any symlink (see openDir) and is then listed.
func (w *treeWatcher) addWatch(dfd int, st *unix.Stat_t, it walkItem) (int32, error) {
	if w.fan != nil {
		return w.fan.addWatch(dfd, st, w.abs(w.itemRel(it)))
	}
	if w.opts.Kernel != nil {
		wd, err := w.opts.Kernel.AddWatch(dfd, w.itemRel(it), watchMask)
		if err != nil && !errors.Is(err, unix.ESTALE) {
			return -1, w.watchError("watch", w.itemRel(it), err)
		}
		return wd, err
	}
	w.scratch = procFdPath(w.scratch, dfd)
	wd, err := inotifyAddWatch(w.fd, w.scratch, watchMask)
	if err == nil {
		return wd, nil
	}
	if errors.Is(err, unix.ENOENT) {
		return -1, &WatchError{Op: "watch", Path: w.abs(w.itemRel(it)), Err: err,
			Detail: "watches are added through /proc/self/fd, which is missing: mount /proc"}
	}
	return -1, w.watchError("watch", w.itemRel(it), err)
}

func (w *treeWatcher) stepDone(j *job) {
	j.pending--
	if j.pending > 0 {
		return
	}
	delete(w.activeJobs, j)
	switch j.kind {
	case jobDir:
		// Reported as a change in the directory that holds it, where it
		// is now; a directory that went away meanwhile is reported at
		// the path it had.
		if j.top != nil && j.top.attached() {
			ev := j.done
			ev.Path = w.relPath(j.top, "")
			w.emitIn(j.top.parent, ev)
		} else {
			w.emit(j.done)
		}
	case jobOverflow:
		w.overflowJob = nil
		w.rewalk.finish(time.Now())
		w.emit(event.Event{Path: "", Op: event.Rescan, IsDir: true, Mask: unix.IN_Q_OVERFLOW})
	case jobReconcile:
		w.reconciled(j)
	}
}

// vanished tells whether opening a directory failed because it is no longer
// there as a directory reachable without symlinks.
func vanished(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP)
}

// openDir opens the directory rel for reading without following a symlink in
// any component: a directory replaced by a symlink must not lead the watcher
// out of the tree (IN_DONT_FOLLOW would only protect the last component).
// It never keeps a descriptor open beyond one step, so the watcher does not
// keep file systems busy (umount works, and the kernel reports IN_UNMOUNT).
func (w *treeWatcher) openDir(rel string) (int, error) {
	if w.noOpenat2 {
		return beneath.OpenDirByComponent(w.opts.Root, rel)
	}
	if rel == "" {
		return openBeneath(w.cString(w.opts.Root))
	}
	return openBeneath(w.cString(w.prefix, rel))
}

// openBeneath is openDir with openat2, for the NUL-terminated absolute path.
func openBeneath(path []byte) (int, error) {
	how := unix.OpenHow{
		Flags:   dirOpenFlags,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	for tries := 0; ; tries++ {
		fd, err := openat2(unix.AT_FDCWD, path, &how)
		// EAGAIN: a concurrent rename raced with the lookup; try again.
		if (err == unix.EINTR || err == unix.EAGAIN) && tries < 100 {
			continue
		}
		return fd, err
	}
}

// subdirs calls add with the name of each subdirectory of the open
// directory dfd (rel; needed only with rules) that is to be watched.
func (w *treeWatcher) subdirs(dfd int, rel string, add func(name string)) error {
	return listSubdirs(dfd, w.dirents, func(name string) {
		if w.walked(join(rel, name)) {
			add(name)
		}
	})
}

// listSubdirs calls add with the name of each subdirectory of the open
// directory dfd, read with buf. Symlinks are not directories here. Only
// those names are allocated: the other entries are looked at in place.
func listSubdirs(dfd int, buf []byte, add func(name string)) error {
	for {
		n, err := unix.Getdents(dfd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		for b := buf[:n]; len(b) >= 19; {
			// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name.
			reclen := int(binary.NativeEndian.Uint16(b[16:]))
			if reclen < 19 || reclen > len(b) {
				return unix.EIO
			}
			typ := b[18]
			name := b[19:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			b = b[reclen:]
			if string(name) == "." || string(name) == ".." {
				continue
			}
			if typ == unix.DT_UNKNOWN {
				// Some file systems leave the type out: ask the inode.
				var st unix.Stat_t
				if err := unix.Fstatat(dfd, string(name), &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
					continue // gone already
				}
				if st.Mode&unix.S_IFMT == unix.S_IFDIR {
					typ = unix.DT_DIR
				}
			}
			if typ == unix.DT_DIR {
				add(string(name))
			}
		}
	}
}

// countDirs counts the directories New would watch, for the ENOSPC message.
// It gives up at the deadline: the message then says "at least".
func (w *treeWatcher) countDirs(deadline time.Time) int {
	count := 0
	errLate := errors.New("late")
	beneath.Walk(w.opts.Root, "", func(rel string, dir bool) error {
		switch {
		case time.Now().After(deadline):
			return errLate
		case !dir:
			return nil
		case !w.walked(rel):
			return beneath.SkipDir
		}
		if w.opts.OneFileSystem && rel != "" {
			if st, err := beneath.Lstat(w.opts.Root, rel); err != nil || st.Dev != w.pin.Dev {
				return beneath.SkipDir
			}
		}
		count++
		return nil
	})
	return count
}
