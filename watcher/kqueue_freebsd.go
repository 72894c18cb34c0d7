//go:build freebsd

package watcher

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/clsync-go/clsync/event"
	"golang.org/x/sys/unix"
)

// kqueueSource feeds a snapCore from kqueue's EVFILT_VNODE: one descriptor
// per directory (its NOTE_WRITE says an entry changed, never which) and per
// regular file of a monitored directory (a write does not touch the
// directory). A listing goes through the directory's own descriptor, so it
// is never of the wrong directory, whatever was renamed meanwhile.
type kqueueSource struct {
	root    string
	kq      int
	core    *snapCore
	dirs    map[int]*snapDir // by descriptor
	dirFd   map[*snapDir]int
	files   map[int]kqueueFile
	fileFd  map[kqueueFile]int
	events  []unix.Kevent_t
	dirent  []byte
	changes [1]unix.Kevent_t
}

type kqueueFile struct {
	dir  *snapDir
	name string
}

const (
	kqueueDirNotes  = unix.NOTE_WRITE | unix.NOTE_EXTEND | unix.NOTE_ATTRIB | unix.NOTE_LINK | unix.NOTE_DELETE | unix.NOTE_RENAME | unix.NOTE_REVOKE
	kqueueFileNotes = unix.NOTE_WRITE | unix.NOTE_EXTEND | unix.NOTE_ATTRIB | unix.NOTE_DELETE | unix.NOTE_RENAME | unix.NOTE_REVOKE
	// kqueueWake is the EVFILT_USER event that ends a wait (idents are
	// per filter: no clash with descriptors).
	kqueueWake = 0
)

func newKqueueSource(root string) (*kqueueSource, error) {
	kq, err := unix.Kqueue()
	if err != nil {
		return nil, fmt.Errorf("kqueue: %w", err)
	}
	unix.CloseOnExec(kq)
	s := &kqueueSource{root: root, kq: kq,
		dirs: make(map[int]*snapDir), dirFd: make(map[*snapDir]int),
		files: make(map[int]kqueueFile), fileFd: make(map[kqueueFile]int),
		events: make([]unix.Kevent_t, 256), dirent: make([]byte, 32<<10)}
	wake := unix.Kevent_t{Ident: kqueueWake, Filter: unix.EVFILT_USER, Flags: unix.EV_ADD | unix.EV_CLEAR}
	if _, err := unix.Kevent(kq, []unix.Kevent_t{wake}, nil, nil); err != nil {
		unix.Close(kq)
		return nil, fmt.Errorf("kevent EVFILT_USER: %w", err)
	}
	return s, nil
}

func (s *kqueueSource) abs(rel string) string {
	if rel == "" {
		return s.root
	}
	return s.root + "/" + rel
}

// open opens name in the directory fd and registers it with notes.
func (s *kqueueSource) open(dirfd int, name string, flags int, notes uint32, rel string) (int, snapEntry, error) {
	fd, err := snapOpenat(dirfd, name, flags)
	if err != nil {
		return -1, snapEntry{}, s.openError(rel, err)
	}
	e, err := snapFstat(fd)
	if err == nil {
		s.changes[0] = unix.Kevent_t{}
		unix.SetKevent(&s.changes[0], fd, unix.EVFILT_VNODE, unix.EV_ADD|unix.EV_CLEAR)
		s.changes[0].Fflags = notes
		if _, err = unix.Kevent(s.kq, s.changes[:], nil, nil); err != nil {
			err = &WatchError{Op: "watch", Path: s.abs(rel), Err: err}
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, e, err
	}
	return fd, e, nil
}

// openError explains a failed open; running out of descriptors names the
// limits to raise.
func (s *kqueueSource) openError(rel string, err error) error {
	if snapVanished(err) {
		return err
	}
	we := &WatchError{Op: "open", Path: s.abs(rel), Err: err}
	if errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) {
		maxFiles, _ := unix.SysctlUint32("kern.maxfiles")
		perProc, _ := unix.SysctlUint32("kern.maxfilesperproc")
		var rl unix.Rlimit
		_ = unix.Getrlimit(unix.RLIMIT_NOFILE, &rl)
		we.Detail = fmt.Sprintf("%v: kqueue holds a descriptor per watched directory and file (%d now; kern.maxfiles=%d, kern.maxfilesperproc=%d, RLIMIT_NOFILE=%d): raise them with sysctl and ulimit -n, exclude part of the tree, or use --monitor=inotify on FreeBSD 15.0+",
			err, s.watches(), maxFiles, perProc, rl.Cur)
	} else if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
		we.Detail = err.Error() + ": changes below this directory cannot be seen; give the watcher read access to it or exclude it from monitoring"
	}
	return we
}

func (s *kqueueSource) watchDir(d *snapDir) (snapEntry, error) {
	dirfd, name := unix.AT_FDCWD, s.root
	if d.parent != nil {
		dirfd, name = s.dirFd[d.parent], d.name
	}
	fd, e, err := s.open(dirfd, name, snapDirFlags, kqueueDirNotes, d.rel())
	if err != nil {
		return e, err
	}
	s.dirs[fd] = d
	s.dirFd[d] = fd
	return e, nil
}

func (s *kqueueSource) unwatchDir(d *snapDir) {
	if fd, ok := s.dirFd[d]; ok {
		delete(s.dirFd, d)
		delete(s.dirs, fd)
		unix.Close(fd) // closing removes its knote
	}
}

// watchFile opens the file without side effects: non-blocking (a FIFO's
// open would wait for a writer) and never through a symlink.
func (s *kqueueSource) watchFile(d *snapDir, name string) (snapEntry, error) {
	key := kqueueFile{d, name}
	if _, ok := s.fileFd[key]; ok {
		s.unwatchFile(d, name)
	}
	fd, e, err := s.open(s.dirFd[d], name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK,
		kqueueFileNotes, snapJoin(d.rel(), name))
	if err != nil {
		return e, err
	}
	s.files[fd] = key
	s.fileFd[key] = fd
	return e, nil
}

func (s *kqueueSource) unwatchFile(d *snapDir, name string) {
	key := kqueueFile{d, name}
	if fd, ok := s.fileFd[key]; ok {
		delete(s.fileFd, key)
		delete(s.files, fd)
		unix.Close(fd)
	}
}

func (s *kqueueSource) list(d *snapDir) (snapEntry, map[string]snapEntry, error) {
	fd, ok := s.dirFd[d]
	if !ok {
		return snapEntry{}, nil, unix.ENOENT
	}
	self, err := snapFstat(fd)
	if err != nil {
		return self, nil, err
	}
	entries, err := snapReadDir(fd, s.dirent)
	return self, entries, err
}

func (s *kqueueSource) stat(d *snapDir, name string) (snapEntry, error) {
	fd, ok := s.dirFd[d]
	if !ok {
		return snapEntry{}, unix.ENOENT
	}
	return snapStatAt(fd, name)
}

func (s *kqueueSource) watches() int { return len(s.dirs) + len(s.files) }

func (s *kqueueSource) poke() {
	trigger := unix.Kevent_t{Ident: kqueueWake, Filter: unix.EVFILT_USER, Fflags: unix.NOTE_TRIGGER}
	_, _ = unix.Kevent(s.kq, []unix.Kevent_t{trigger}, nil, nil)
}

func (s *kqueueSource) close() error {
	var errs []error
	for fd := range s.dirs {
		errs = append(errs, unix.Close(fd))
	}
	for fd := range s.files {
		errs = append(errs, unix.Close(fd))
	}
	clear(s.dirs)
	clear(s.files)
	return errors.Join(append(errs, unix.Close(s.kq))...)
}

func (s *kqueueSource) read(timeout time.Duration) (bool, time.Time, error) {
	var ts *unix.Timespec
	if timeout >= 0 {
		t := unix.NsecToTimespec(int64(timeout))
		ts = &t
	}
	start := time.Now()
	n, err := unix.Kevent(s.kq, nil, s.events, ts)
	if err == unix.EINTR {
		return false, time.Time{}, nil
	}
	if err != nil {
		return false, time.Time{}, fmt.Errorf("kevent: %w", err)
	}
	woken := false
	for _, ev := range s.events[:n] {
		if ev.Filter == unix.EVFILT_USER {
			woken = true
			continue
		}
		s.handle(int(ev.Ident), ev.Fflags)
	}
	if n < len(s.events) {
		// The kernel's active list is first in, first out: a read that
		// did not fill the buffer took all that was queued at its start.
		return woken, start, nil
	}
	return woken, time.Time{}, nil
}

// handle passes the notes of descriptor fd to the core. A knote of a
// descriptor closed meanwhile was removed with it; a reused number is a
// new watch, and a spurious re-listing costs nothing but time.
func (s *kqueueSource) handle(fd int, notes uint32) {
	if d, ok := s.dirs[fd]; ok {
		switch {
		case notes&(unix.NOTE_DELETE|unix.NOTE_REVOKE) != 0:
			s.core.dirDeleted(d)
		case notes&unix.NOTE_RENAME != 0:
			s.core.dirGone(d)
		case notes&(unix.NOTE_WRITE|unix.NOTE_EXTEND|unix.NOTE_LINK) != 0:
			// No name (unlike inotify's entryChanged): an entry that
			// lives only between two listings goes unreported.
			s.core.dirChanged(d)
		}
		if notes&unix.NOTE_ATTRIB != 0 {
			if d.parent == nil {
				s.core.selfAttrib(d)
			} else {
				// A subdirectory's mode shows in its parent's listing,
				// and its parent gets no note for it.
				s.core.dirChanged(d.parent)
			}
		}
		return
	}
	f, ok := s.files[fd]
	if !ok {
		return
	}
	if notes&(unix.NOTE_DELETE|unix.NOTE_RENAME|unix.NOTE_REVOKE) != 0 {
		s.core.dirChanged(f.dir)
		return
	}
	var op event.Op
	if notes&(unix.NOTE_WRITE|unix.NOTE_EXTEND) != 0 {
		op |= event.Modify
	}
	if notes&unix.NOTE_ATTRIB != 0 {
		op |= event.Attrib
	}
	if op != 0 {
		s.core.fileChanged(f.dir, f.name, op)
	}
}

// newKqueueBackend watches opts.Root with kqueue.
func newKqueueBackend(ctx context.Context, opts Options, pin Root) (backend, error) {
	src, err := newKqueueSource(opts.Root)
	if err != nil {
		return nil, err
	}
	core := newSnapCore(snapConfigOf(opts, pin), src, src)
	src.core = core
	return newSnapWatcher(ctx, opts, Kqueue, pin, core, src)
}
