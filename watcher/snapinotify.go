//go:build linux || freebsd

package watcher

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// snapInotify feeds a snapCore from an inotify instance: FreeBSD's native
// inotify (15.0 and later), whose event bits and struct inotify_event are
// Linux's; only the system calls differ (snapInotifyOps), so the Linux
// tests run this code on Linux's inotify. One watch per directory.
//
// Events name the entry, but the core learns what changed from listings,
// as with kqueue, so that both FreeBSD backends share one logic: except for
// writes and metadata changes of a file, which a listing may not show (same
// size, and an mtime within the clock's granularity), and for the name of
// an entry that lived only between two listings (see snapCore.apply).
type snapInotify struct {
	ops    snapInotifyOps
	root   string
	ifd    int
	wake   [2]int // a pipe whose write ends the poll
	core   *snapCore
	wds    map[int32][]*snapDir // a directory reached twice (bind mount) shares its wd
	wdOf   map[*snapDir]int32
	gone   map[int32]bool // removed by us, their IN_IGNORED still queued
	buf    []byte
	dirent []byte
}

// snapInotifyOps are the system calls that differ between Linux and FreeBSD.
type snapInotifyOps struct {
	init func() (int, error) // a non-blocking, close-on-exec instance
	// addWatch watches the directory open as dfd with mask.
	addWatch func(ifd, dfd int, mask uint32) (int32, error)
	rmWatch  func(ifd int, wd int32) error
}

// inotify's event bits, the same on Linux and FreeBSD.
const (
	snapInModify     = 0x2
	snapInAttrib     = 0x4
	snapInCloseWrite = 0x8
	snapInMovedFrom  = 0x40
	snapInMovedTo    = 0x80
	snapInCreate     = 0x100
	snapInDelete     = 0x200
	snapInDeleteSelf = 0x400
	snapInMoveSelf   = 0x800
	snapInUnmount    = 0x2000
	snapInQOverflow  = 0x4000
	snapInIgnored    = 0x8000
	snapInOnlyDir    = 0x1000000
	snapInExclUnlink = 0x4000000
	snapInIsDir      = 0x40000000

	snapInotifyMask = snapInModify | snapInAttrib | snapInCloseWrite | snapInMovedFrom | snapInMovedTo |
		snapInCreate | snapInDelete | snapInDeleteSelf | snapInMoveSelf | snapInOnlyDir | snapInExclUnlink

	// struct inotify_event: wd, mask, cookie, len, then len bytes of name.
	snapInotifyHeader = 16
	snapInotifyMaxEv  = snapInotifyHeader + 256
)

func newSnapInotify(root string, ops snapInotifyOps) (*snapInotify, error) {
	ifd, err := ops.init()
	if err != nil {
		return nil, err
	}
	s := &snapInotify{ops: ops, root: root, ifd: ifd,
		wds: make(map[int32][]*snapDir), wdOf: make(map[*snapDir]int32), gone: make(map[int32]bool),
		buf: make([]byte, 64<<10), dirent: make([]byte, 32<<10)}
	if err := unix.Pipe2(s.wake[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		unix.Close(ifd)
		return nil, fmt.Errorf("pipe: %w", err)
	}
	return s, nil
}

func (s *snapInotify) abs(rel string) string {
	if rel == "" {
		return s.root
	}
	return s.root + "/" + rel
}

func (s *snapInotify) watchDir(d *snapDir) (snapEntry, error) {
	dfd, err := snapOpenDir(s.root, d.rel())
	if err != nil {
		return snapEntry{}, err
	}
	defer unix.Close(dfd)
	self, err := snapFstat(dfd)
	if err != nil {
		return self, err
	}
	wd, err := s.ops.addWatch(s.ifd, dfd, snapInotifyMask)
	if err != nil {
		return self, snapInotifyError(s.abs(d.rel()), err)
	}
	delete(s.gone, wd) // reused: its IN_IGNORED is no longer ours to act on
	s.wds[wd] = append(s.wds[wd], d)
	s.wdOf[d] = wd
	return self, nil
}

// rewatch: the IN_IGNORED of a deleted directory may have been lost in an
// overflow, and a new directory given its inode number. Adding a watch on
// the directory now at d's path returns the wd the kernel has for that
// inode: d's if d's watch is on it, else a new one, which d takes over.
func (s *snapInotify) rewatch(d *snapDir) error {
	dfd, err := snapOpenDir(s.root, d.rel())
	if err != nil {
		if snapVanished(err) {
			return nil // the listing finds out
		}
		return err
	}
	defer unix.Close(dfd)
	self, err := snapFstat(dfd)
	if err != nil || !self.sameObject(d.self) {
		return nil // another directory, or none: the listing finds out
	}
	wd, err := s.ops.addWatch(s.ifd, dfd, snapInotifyMask)
	if err != nil {
		return snapInotifyError(s.abs(d.rel()), err)
	}
	if old, ok := s.wdOf[d]; ok && old == wd {
		return nil
	}
	s.unwatchDir(d) // a watch the kernel dropped: its removal fails harmlessly
	delete(s.gone, wd)
	s.wds[wd] = append(s.wds[wd], d)
	s.wdOf[d] = wd
	return nil
}

// snapInotifyError explains a failed watch.
func snapInotifyError(path string, err error) error {
	we := &WatchError{Op: "watch", Path: path, Err: err}
	switch {
	case errors.Is(err, unix.ENOSPC):
		we.Detail = "inotify watch limit reached: raise it with sysctl (vfs.inotify.max_user_watches on FreeBSD, fs.inotify.max_user_watches on Linux)"
	case errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM):
		we.Detail = err.Error() + ": changes below this directory cannot be seen; give the watcher read access to it or exclude it from monitoring"
	}
	return we
}

func (s *snapInotify) unwatchDir(d *snapDir) {
	wd, ok := s.wdOf[d]
	if !ok {
		return // the kernel dropped it already
	}
	delete(s.wdOf, d)
	dirs := s.wds[wd]
	for i, x := range dirs {
		if x == d {
			dirs = append(dirs[:i], dirs[i+1:]...)
			break
		}
	}
	if len(dirs) > 0 {
		s.wds[wd] = dirs
		return
	}
	delete(s.wds, wd)
	s.gone[wd] = true
	// EINVAL: the kernel removed it first (its IN_IGNORED is queued).
	_ = s.ops.rmWatch(s.ifd, wd)
}

func (s *snapInotify) list(d *snapDir) (snapEntry, map[string]snapEntry, error) {
	dfd, err := snapOpenDir(s.root, d.rel())
	if err != nil {
		return snapEntry{}, nil, err
	}
	defer unix.Close(dfd)
	self, err := snapFstat(dfd)
	if err != nil {
		return self, nil, err
	}
	entries, err := snapReadDir(dfd, s.dirent)
	return self, entries, err
}

func (s *snapInotify) stat(d *snapDir, name string) (snapEntry, error) {
	dfd, err := snapOpenDir(s.root, d.rel())
	if err != nil {
		return snapEntry{}, err
	}
	defer unix.Close(dfd)
	return snapStatAt(dfd, name)
}

func (s *snapInotify) watches() int { return len(s.wdOf) }

func (s *snapInotify) poke() { _, _ = unix.Write(s.wake[1], []byte{1}) }

func (s *snapInotify) close() error {
	return errors.Join(unix.Close(s.ifd), unix.Close(s.wake[0]), unix.Close(s.wake[1]))
}

func (s *snapInotify) read(timeout time.Duration) (bool, time.Time, error) {
	ms := -1
	if timeout >= 0 {
		ms = int((timeout + time.Millisecond - 1) / time.Millisecond)
	}
	start := time.Now()
	fds := []unix.PollFd{{Fd: int32(s.ifd), Events: unix.POLLIN}, {Fd: int32(s.wake[0]), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, ms)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false, time.Time{}, fmt.Errorf("poll inotify: %w", err)
		}
		break
	}
	woken := fds[1].Revents != 0
	if woken {
		var b [64]byte
		for {
			if n, _ := unix.Read(s.wake[0], b[:]); n < len(b) {
				break
			}
		}
	}
	if fds[0].Revents&unix.POLLIN == 0 {
		return woken, start, nil
	}
	for {
		n, err := unix.Read(s.ifd, s.buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return woken, start, nil
		case err != nil:
			return woken, time.Time{}, fmt.Errorf("read inotify: %w", err)
		}
		if err := s.handle(s.buf[:n]); err != nil {
			return woken, time.Time{}, err
		}
		if n <= len(s.buf)-snapInotifyMaxEv {
			// Room was left for any event: the read took all that was
			// queued when it started.
			return woken, start, nil
		}
		return woken, time.Time{}, nil
	}
}

// handle passes the events in b to the core.
func (s *snapInotify) handle(b []byte) error {
	for len(b) >= snapInotifyHeader {
		wd := int32(binary.NativeEndian.Uint32(b[0:]))
		mask := binary.NativeEndian.Uint32(b[4:])
		size := snapInotifyHeader + int(binary.NativeEndian.Uint32(b[12:]))
		if size > len(b) {
			return fmt.Errorf("read inotify: truncated event (wd %d, mask %#x)", wd, mask)
		}
		name := b[snapInotifyHeader:size]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		b = b[size:]
		if mask&snapInQOverflow != 0 {
			s.core.overflow()
			continue
		}
		if mask&snapInIgnored != 0 {
			if s.gone[wd] {
				delete(s.gone, wd)
				continue
			}
			// The kernel dropped the watch: the directory was deleted
			// or its file system unmounted.
			for _, d := range s.wds[wd] {
				delete(s.wdOf, d)
				s.core.dirDeleted(d)
			}
			delete(s.wds, wd)
			continue
		}
		for _, d := range s.wds[wd] {
			s.dispatch(d, mask, string(name))
		}
	}
	return nil
}

func (s *snapInotify) dispatch(d *snapDir, mask uint32, name string) {
	switch {
	case name == "":
		switch {
		case mask&(snapInDeleteSelf|snapInUnmount) != 0:
			s.core.dirDeleted(d)
		case mask&snapInMoveSelf != 0:
			s.core.dirGone(d)
		case mask&snapInAttrib != 0:
			s.core.selfAttrib(d)
		}
	case mask&(snapInCreate|snapInDelete|snapInMovedFrom|snapInMovedTo|snapInIsDir) != 0:
		s.core.entryChanged(d, name, mask&snapInIsDir != 0)
	default:
		if op := maskOp(mask); op != 0 {
			s.core.fileChanged(d, name, op)
		}
	}
}
