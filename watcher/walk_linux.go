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
	top    bool // this is the directory the job was started for
}

// walkChunk bounds the steps done between two reads of the inotify queue.
const walkChunk = 64

func (w *Watcher) newJob(kind jobKind, done Event) *job {
	w.jobID++
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
	defer w.stepDone(it.job)
	rel := ""
	if it.parent != nil {
		if !it.parent.attached {
			return nil
		}
		rel = join(it.parent.rel, it.name)
	}
	dfd, err := w.openDir(rel)
	if err != nil {
		if vanished(err) {
			// Deleted, renamed or replaced by a non-directory since it
			// was listed or reported: its parent's events say so.
			return nil
		}
		return w.watchError("open", rel, err)
	}
	defer unix.Close(dfd)
	if w.opts.OneFileSystem && it.parent != nil {
		var st unix.Stat_t
		if err := unix.Fstat(dfd, &st); err != nil {
			return w.watchError("stat", rel, err)
		}
		if st.Dev != w.rootDev {
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
