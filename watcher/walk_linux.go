//go:build linux

package watcher

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"time"

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
)

func (k jobKind) String() string { return [...]string{"initial", "dir", "overflow"}[k] }

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
	pending int   // steps queued and not done yet
	done    Event // for jobDir: reported at top's path then
	top     *node // for jobDir: the directory the job was started for, once watched
}

// walkItem is one step: watch and list the directory name in parent (parent
// nil: the root). It names the directory through its parent's node, not by
// path, so a rename of an ancestor before the step runs is followed.
type walkItem struct {
	parent *node
	name   string
	job    *job
	top    bool      // this is the directory the job was started for
	since  time.Time // first deferred (see deferItem)
	at     time.Time // last deferred
}

// walkChunk bounds the steps done between two reads of the inotify queue.
const walkChunk = 64

func (w *Watcher) newJob(kind jobKind, done Event) *job {
	w.jobID++
	if w.trace {
		w.log.Debug("walk job", "job", w.jobID, "kind", kind, "path", done.Path)
	}
	return &job{id: w.jobID, kind: kind, done: done}
}

func (w *Watcher) push(it walkItem) {
	it.job.pending++
	w.stack = append(w.stack, it)
}

// newDir starts watching the directory name that appeared in parent and
// reports done when its subtree is watched. A directory excluded by Monitor
// is reported as a plain directory Create.
func (w *Watcher) newDir(parent *node, name string, done Event) {
	if !w.monitored(done.Path) {
		done.Op = (done.Op | Create) &^ Rescan
		w.emit(done)
		return
	}
	w.push(walkItem{parent: parent, name: name, job: w.newJob(jobDir, done), top: true})
}

// walkSome does up to n steps.
func (w *Watcher) walkSome(n int) error {
	for ; n > 0 && len(w.stack) > 0; n-- {
		it := w.stack[len(w.stack)-1]
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
func (w *Watcher) step(it walkItem) error {
	dfd, st, res, err := w.openItem(it)
	if err != nil {
		return err
	}
	if w.trace && it.parent != nil {
		w.log.Debug("walk step", "job", it.job.id, "path", join(it.parent.rel, it.name), "result", res)
	}
	if res == stale {
		w.deferItem(it)
		return nil
	}
	defer w.stepDone(it.job)
	if res == gone {
		return nil
	}
	defer unix.Close(dfd)
	rel := ""
	if it.parent != nil {
		rel = join(it.parent.rel, it.name)
		if w.opts.OneFileSystem && st.Dev != w.rootDev {
			if old := it.parent.children[it.name]; old != nil {
				w.drop(old)
			}
			return nil
		}
	}
	wd, err := w.addWatch(dfd, rel)
	if err != nil {
		return err
	}
	if it.parent == nil && w.root != nil && wd != w.root.wd {
		return &RootError{Root: w.opts.Root, Reason: "root directory was replaced by another"}
	}
	n := w.adopt(wd, it.parent, it.name, it.job)
	if n == nil {
		return nil
	}
	if w.trace {
		w.log.Debug("walk adopt", "job", it.job.id, "wd", wd, "path", n.rel)
	}
	n.dev, n.ino = st.Dev, st.Ino
	if it.top {
		it.job.top = n
	}
	if n.visited == it.job.id {
		return nil
	}
	n.visited = it.job.id
	names, err := w.subdirs(dfd, rel)
	if err != nil {
		if vanished(err) {
			// Removed while being listed (getdents fails with ENOENT on
			// a dead directory): its parent reports that.
			return nil
		}
		return w.watchError("scan", rel, err)
	}
	var listed map[string]bool
	if len(n.children) > 0 {
		listed = make(map[string]bool, len(names))
		for _, name := range names {
			listed[name] = true
		}
		for name, c := range n.children {
			if !listed[name] {
				w.drop(c)
			}
		}
	}
	for _, name := range names {
		w.push(walkItem{parent: n, name: name, job: it.job})
	}
	return nil
}

type openResult uint8

const (
	opened openResult = iota
	gone              // not there: deleted, renamed, or not a directory any more
	stale             // the parent is not at its cached path: events about that are queued
)

func (r openResult) String() string { return [...]string{"opened", "gone", "stale"}[r] }

// openItem opens the directory of a step. A cached path can be stale: a
// rename of an ancestor may be queued but not handled yet, and the path may
// then lead nowhere or to another directory. So the parent is opened by path
// and checked by inode, and the directory is opened relative to it: it is
// then in that parent by construction. A stale parent defers the step until
// the queued events have been handled.
func (w *Watcher) openItem(it walkItem) (int, unix.Stat_t, openResult, error) {
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
		if st.Dev != w.rootDev || st.Ino != w.rootIno {
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
	rel := join(it.parent.rel, it.name)
	fd, err := openat(pfd, it.name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	if err != nil {
		if vanished(err) {
			return -1, st, gone, nil
		}
		return -1, st, gone, w.watchError("open", rel, err)
	}
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, st, gone, w.watchError("stat", rel, err)
	}
	return fd, st, opened, nil
}

// openParent opens the watched directory p by its cached path and checks
// that it is p's inode.
func (w *Watcher) openParent(p *node) (int, openResult, error) {
	if !p.attached {
		return -1, gone, nil
	}
	pfd, err := w.openDir(p.rel)
	if err != nil {
		if vanished(err) {
			return -1, stale, nil
		}
		return -1, gone, w.watchError("open", p.rel, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil {
		unix.Close(pfd)
		return -1, gone, w.watchError("stat", p.rel, err)
	}
	if st.Dev != p.dev || st.Ino != p.ino {
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
func (w *Watcher) identify(parent *node, name string, n *node) (identity, error) {
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
		return unsure, w.watchError("stat", join(parent.rel, name), err)
	}
	if st.Dev == n.dev && st.Ino == n.ino {
		return same, nil
	}
	return elsewhere, nil
}

func openat(dirfd int, name string, flags int) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// deferStaleAfter bounds how long a step may wait for the events that
// explain its stale parent. Past it, the tree is out of step with the disk
// for a reason no queued event will fix, and a re-walk repairs it.
const deferStaleAfter = time.Second

// deferItem parks a step whose parent is stale until the queue has been
// seen empty after now (see retryDeferred).
func (w *Watcher) deferItem(it walkItem) {
	now := time.Now()
	if it.since.IsZero() {
		it.since = now
	}
	if now.Sub(it.since) > deferStaleAfter {
		w.log.Warn("watch tree out of step with the disk; re-walking", "path", w.abs(join(it.parent.rel, it.name)))
		w.rewalk.overflow(now)
		w.stepDone(it.job)
		return
	}
	it.at = now
	w.deferred = append(w.deferred, it)
}

// retryDeferred queues again the deferred steps parked before drainedAt: the
// events that made their parent's path stale have been handled since.
func (w *Watcher) retryDeferred() {
	keep := w.deferred[:0]
	for _, it := range w.deferred {
		if it.at.Before(w.drainedAt) {
			w.stack = append(w.stack, it)
		} else {
			keep = append(keep, it)
		}
	}
	clear(w.deferred[len(keep):])
	w.deferred = keep
}

// addWatch watches the directory open as dfd (rel). Going through the
// descriptor puts the watch on exactly the directory that was reached
// without following any symlink (see openDir) and is then listed.
func (w *Watcher) addWatch(dfd int, rel string) (int, error) {
	wd, err := unix.InotifyAddWatch(w.fd, "/proc/self/fd/"+strconv.Itoa(dfd), watchMask)
	if err == nil {
		return wd, nil
	}
	if errors.Is(err, unix.ENOENT) {
		return -1, &WatchError{Op: "watch", Path: w.abs(rel), Err: err,
			Detail: "watches are added through /proc/self/fd, which is missing: mount /proc"}
	}
	return -1, w.watchError("watch", rel, err)
}

func (w *Watcher) stepDone(j *job) {
	j.pending--
	if j.pending > 0 {
		return
	}
	switch j.kind {
	case jobDir:
		ev := j.done
		if j.top != nil && j.top.attached {
			ev.Path = j.top.rel
		}
		w.emit(ev)
	case jobOverflow:
		w.overflowJob = nil
		w.rewalk.finish(time.Now())
		w.emit(Event{Path: "", Op: Rescan, IsDir: true, Mask: unix.IN_Q_OVERFLOW})
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
func (w *Watcher) openDir(rel string) (int, error) {
	p := w.abs(rel)
	if w.noOpenat2 {
		return openDirByComponent(w.opts.Root, rel)
	}
	how := unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	for tries := 0; ; tries++ {
		fd, err := unix.Openat2(unix.AT_FDCWD, p, &how)
		// EAGAIN: a concurrent rename raced with the lookup; try again.
		if (err == unix.EINTR || err == unix.EAGAIN) && tries < 100 {
			continue
		}
		return fd, err
	}
}

// openDirByComponent is openDir for kernels without openat2 (before 5.6):
// it walks rel one component at a time with O_NOFOLLOW.
func openDirByComponent(root, rel string) (int, error) {
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	parts := []string{"."}
	if rel != "" {
		parts = strings.Split(rel, "/")
	}
	for i, part := range parts {
		flags := unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
		if i == len(parts)-1 {
			flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
		}
		next, err := unix.Openat(fd, part, flags, 0)
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

// subdirs lists the subdirectories of the open directory dfd (rel) that are
// to be watched. Symlinks are not directories here.
func (w *Watcher) subdirs(dfd int, rel string) ([]string, error) {
	var names []string
	for {
		n, err := unix.Getdents(dfd, w.dirents)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return names, nil
		}
		for b := w.dirents[:n]; len(b) >= 19; {
			// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name.
			reclen := int(binary.NativeEndian.Uint16(b[16:]))
			if reclen < 19 || reclen > len(b) {
				return nil, unix.EIO
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
			if typ != unix.DT_DIR {
				continue
			}
			s := string(name)
			if w.monitored(join(rel, s)) {
				names = append(names, s)
			}
		}
	}
}

// countDirs counts the directories New would watch, for the ENOSPC message.
// It gives up at the deadline: the message then says "at least".
func (w *Watcher) countDirs(deadline time.Time) int {
	count := 0
	queue := []string{""}
	for len(queue) > 0 && time.Now().Before(deadline) {
		rel := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		dfd, err := w.openDir(rel)
		if err != nil {
			continue
		}
		if w.opts.OneFileSystem && rel != "" {
			var st unix.Stat_t
			if unix.Fstat(dfd, &st) != nil || st.Dev != w.rootDev {
				unix.Close(dfd)
				continue
			}
		}
		count++
		names, _ := w.subdirs(dfd, rel)
		unix.Close(dfd)
		for _, name := range names {
			queue = append(queue, join(rel, name))
		}
	}
	return count
}
