//go:build linux

package watcher

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/clsync-go/clsync/event"
	"golang.org/x/sys/unix"
)

// watchMask is what every directory watch asks for. IN_DONT_FOLLOW is left
// out on purpose: watches are added through /proc/self/fd/N, a magic link
// that must be followed to reach the directory, and symlinks are refused
// before that, in every path component, when the directory is opened.
const watchMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MODIFY | unix.IN_CLOSE_WRITE |
	unix.IN_ATTRIB | unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_DELETE_SELF |
	unix.IN_MOVE_SELF | unix.IN_EXCL_UNLINK | unix.IN_ONLYDIR

// maxEventSize is the size of the largest inotify event: a header and a
// NAME_MAX name with its NUL.
const maxEventSize = unix.SizeofInotifyEvent + unix.NAME_MAX + 1

// config holds internals that tests change.
type config struct {
	readBufSize int  // at least maxEventSize
	noOpenat2   bool // use the fallback for kernels before 5.6
	// maxBacklog bounds the events kept while New walks, before anyone
	// can receive them; past it they collapse into one root Rescan.
	maxBacklog int
}

func defaultConfig() config { return config{readBufSize: 64 << 10, maxBacklog: 1 << 16} }

// treeWatcher is the Linux backend: a tree of the watched directories, kept
// in step with the disk by walks and by the events of inotify (one watch per
// directory) or of fanotify (one mark per file system, see
// fanotify_linux.go). A single goroutine reads the kernel's queue, keeps the
// tree in step and delivers the events.
type treeWatcher struct {
	readerState
	opts   Options
	log    *slog.Logger
	fd     int            // the inotify instance or fanotify group, non-blocking
	fan    *fanotifyGroup // nil for inotify
	wakeFd int            // an eventfd that ends the reader's poll on Close
	pin    Root
	prefix string // Root with a trailing slash

	// The fields below belong to the reader goroutine once New returns.
	noOpenat2 bool
	backlog   int
	trace     bool // log every kernel event (the logger takes Debug)
	root      *node
	wds       wdTable // every wd the kernel holds for us, until its IN_IGNORED
	// awaitIgnored holds the released nodes still in wds: an overflow may
	// lose their IN_IGNORED (see reapDetached).
	awaitIgnored map[*node]struct{}
	// reshaped counts the moves and drops of nodes (see walkProbed).
	reshaped    uint64
	probers     []prober
	probes      []probe
	bigDirs     map[*node]map[string]*node // the children of directories with many (see addChild)
	moves       moveTable
	stack       []walkItem
	deferred    []walkItem // steps waiting for events about their parent (see openItem)
	jobID       uint64
	overflowJob *job
	rewalk      rewalkSchedule
	drainedAt   time.Time // the queue was empty at this time: pending moves older than it have no partner queued
	consumed    uint64    // bytes read from the queue so far
	lastRead    int       // bytes the last read returned
	activeJobs  map[*job]struct{}
	moveSeq     uint64 // numbers the move halves in arrival order
	rewalks     uint64 // re-walks started so far
	// overflowCount is rewalks for other goroutines (metrics).
	overflowCount atomic.Uint64
	barriers      []*barrier
	out           []event.Event // the slice being built for the next send
	buf           []byte
	dirents       []byte
	scratch       []byte // where paths are built (see relPath and sys_linux.go)

	nwatches atomic.Int64
}

func newBackend(ctx context.Context, opts Options) (backend, error) {
	return newTreeWatcher(ctx, opts, defaultConfig())
}

// backends are Linux's.
func backends() []Backend { return []Backend{Inotify, Fanotify} }

func newTreeWatcher(ctx context.Context, opts Options, cfg config) (*treeWatcher, error) {
	pin, err := PinRoot(opts.Root)
	if err != nil {
		return nil, err
	}
	fan, err := openFanotify(opts)
	if err != nil {
		return nil, err
	}
	var fd int
	switch {
	case fan != nil:
		fd = fan.fd
	case opts.Kernel != nil:
		fd, err = opts.Kernel.Instance()
	default:
		fd, err = initInotify()
	}
	if err != nil {
		return nil, err
	}
	wakeFd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(fd)
		fan.close()
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	bufSize := max(cfg.readBufSize, maxEventSize)
	if fan != nil {
		bufSize = max(cfg.readBufSize, fanMaxEventSize)
	}
	w := &treeWatcher{
		opts:       opts,
		log:        opts.Logger,
		fd:         fd,
		fan:        fan,
		wakeFd:     wakeFd,
		pin:        pin,
		prefix:     opts.Root + "/",
		noOpenat2:  cfg.noOpenat2,
		backlog:    max(cfg.maxBacklog, 1),
		trace:      opts.Logger.Enabled(ctx, slog.LevelDebug),
		buf:        make([]byte, bufSize),
		dirents:    make([]byte, 32<<10),
		activeJobs: make(map[*job]struct{}),
	}
	w.readerState = newReaderState(w.wakeReader)
	if opts.Root == "/" {
		w.prefix = "/"
	}
	if !w.noOpenat2 {
		if dfd, err := w.openDir(""); errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
			// Before Linux 5.6, or refused by a seccomp filter.
			w.noOpenat2 = true
		} else if err == nil {
			unix.Close(dfd)
		}
	}
	if err := w.initialWalk(ctx); err != nil {
		w.releaseFds(w.freeFds)
		return nil, err
	}
	w.start(ctx, w.log, w.loop, w.freeFds)
	return w, nil
}

// initialWalk watches the tree before the reader starts. It reads the queue
// between chunks like the reader does, so that renames during the walk are
// followed and a busy tree does not overflow the queue meanwhile; what that
// reports waits in w.out for the reader to deliver, collapsed into a root
// Rescan if it grows past the backlog bound.
func (w *treeWatcher) initialWalk(ctx context.Context) error {
	j := w.newJob(jobInitial, event.Event{})
	w.push(walkItem{job: j, top: true})
	every := w.opts.ProgressEvery
	if every <= 0 {
		every = time.Second
	}
	report := time.Now().Add(every)
	for j.pending > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := w.work(); err != nil {
			return err
		}
		if now := time.Now(); w.opts.Progress != nil && now.After(report) {
			w.opts.Progress(w.watches())
			report = now.Add(every)
		}
		before := time.Now()
		readable, _, err := w.poll(0)
		if err != nil {
			return err
		}
		if err := w.drain(readable, before); err != nil {
			return err
		}
		if len(w.out) > w.backlog {
			w.out = append(w.out[:0], event.Event{Path: "", Op: event.Rescan, IsDir: true})
		}
	}
	return nil
}

// watches is one per watched directory, plus for a moment those removed
// whose IN_IGNORED is still queued.
func (w *treeWatcher) watches() int { return int(w.nwatches.Load()) }

func (w *treeWatcher) overflows() uint64 { return w.overflowCount.Load() }

func (w *treeWatcher) pinned() Root { return w.pin }

func (w *treeWatcher) kind() Backend {
	if w.fan != nil {
		return Fanotify
	}
	return Inotify
}

// wakeReader ends the reader's poll (see readerState.poke).
func (w *treeWatcher) wakeReader() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(w.wakeFd, one[:])
}

// woken handles a readable wakeFd: false when the reader is to stop.
func (w *treeWatcher) woken() bool {
	var buf [8]byte
	_, _ = unix.Read(w.wakeFd, buf[:]) // resets the count; EAGAIN if another read did
	if w.stopping() {
		return false
	}
	w.takeBarriers()
	w.takeReconciles()
	return true
}

// freeFds closes the kernel's descriptors; run by readerState.releaseFds, once
// no poke can write to wakeFd.
func (w *treeWatcher) freeFds() error {
	return errors.Join(unix.Close(w.fd), unix.Close(w.wakeFd), w.fan.close())
}

func (w *treeWatcher) loop() error {
	if !w.flush() { // what New's walk reported
		return nil
	}
	for {
		if w.lastRead >= burstRead {
			// A storm: let the queue fill a moment, so that one read
			// (one wakeup, one slice for the consumer) takes many events.
			time.Sleep(burstPause)
		}
		before := time.Now()
		readable, woken, err := w.poll(w.pollTimeout(before))
		if err != nil || woken && !w.woken() {
			return err
		}
		if err := w.drain(readable, before); err != nil {
			return err
		}
		if w.awaitingClose() {
			// A file was created but not yet closed: its writer is most
			// likely still at it. Waiting a moment for the rest lets one
			// sync carry the whole file instead of a sync of an empty
			// file and a second one right after it.
			before := time.Now()
			readable, woken, err := w.poll(closeGraceMs)
			if err != nil || woken && !w.woken() {
				return err
			}
			if readable {
				if err := w.drain(true, before); err != nil {
					return err
				}
			}
		}
		if !w.flush() {
			return nil
		}
		if err := w.work(); err != nil {
			return err
		}
		if !w.flush() {
			return nil
		}
		w.passBarriers()
	}
}

// A read of at least burstRead bytes (some 60 events) is taken for a storm:
// the next read waits burstPause first. A single change, even of a large
// file written in many pieces, is read at once.
const (
	burstRead  = 2 << 10
	burstPause = 5 * time.Millisecond
)

// poll waits up to timeout ms (-1: no limit) for the queue or the wake fd,
// and with fanotify for a change of the mounts (see checkMounts).
func (w *treeWatcher) poll(timeout int) (readable, woken bool, err error) {
	fds := [3]unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}, {Fd: int32(w.wakeFd), Events: unix.POLLIN}, {Fd: -1}}
	if w.fan != nil {
		fds[2] = unix.PollFd{Fd: int32(w.fan.mounts), Events: unix.POLLPRI}
	}
	for {
		_, err := unix.Poll(fds[:], timeout)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false, false, fmt.Errorf("poll %s: %w", w.kind(), err)
		}
		if fds[0].Revents&(unix.POLLERR|unix.POLLNVAL) != 0 {
			return false, false, fmt.Errorf("poll %s: revents %#x", w.kind(), fds[0].Revents)
		}
		if fds[2].Revents != 0 {
			w.fan.mountsChanged = true
		}
		return fds[0].Revents&unix.POLLIN != 0, fds[1].Revents != 0, nil
	}
}

// drain reads the queue, or notes that it was empty at before; then the
// moves and deferred steps that were waiting for that news go on.
func (w *treeWatcher) drain(readable bool, before time.Time) error {
	if w.fan != nil && w.fan.mountsChanged {
		if err := w.checkMounts(); err != nil {
			return err
		}
	}
	if readable {
		if err := w.readEvents(); err != nil {
			return err
		}
	} else {
		w.drainedAt = before
		w.lastRead = 0
	}
	if err := w.expireMoves(false); err != nil {
		return err
	}
	w.retryDeferred()
	return nil
}

// work starts a due re-walk and walks a chunk.
func (w *treeWatcher) work() error {
	if w.overflowJob == nil && w.rewalk.start(time.Now()) {
		if err := w.pin.Check(); err != nil {
			return err
		}
		w.rewalks++
		w.overflowCount.Add(1)
		w.overflowJob = w.newJob(jobOverflow, event.Event{})
		w.push(walkItem{job: w.overflowJob, top: true})
	}
	return w.walkSome(walkChunk)
}

// pollTimeout is 0 while walks are pending (they run between reads, and
// deferred steps wait for the queue to be seen empty), else
// the time to the next move deadline or re-walk, in whole milliseconds
// rounded up, or -1 for none.
func (w *treeWatcher) pollTimeout(now time.Time) int {
	if len(w.stack) > 0 || len(w.deferred) > 0 {
		return 0
	}
	next, ok := w.moves.next()
	if due, sched := w.rewalk.next(); sched && (!ok || due.Before(next)) {
		next, ok = due, true
	}
	if !ok {
		return -1
	}
	d := next.Sub(now)
	if d <= 0 {
		return 0
	}
	return int((d + time.Millisecond - 1) / time.Millisecond)
}

// emit appends ev to the slice being built, merged into the previous event
// when both are about the same object: the consumer ORs them anyway.
// closeGraceMs is how long a read that holds a new, not yet closed file
// waits for more events (see loop).
const closeGraceMs = 1

// awaitingClose tells whether the slice being built holds a regular file
// that was created and not (yet) written and closed.
func (w *treeWatcher) awaitingClose() bool {
	for i := range w.out {
		ev := &w.out[i]
		if ev.Op == event.Create && !ev.IsDir && ev.Mask&unix.IN_CLOSE_WRITE == 0 {
			return true
		}
	}
	return false
}

// emitIn emits ev, a change in the directory dir, if dir is monitored.
func (w *treeWatcher) emitIn(dir *node, ev event.Event) {
	if dir.monitored() {
		w.emit(ev)
	}
}

func (w *treeWatcher) emit(ev event.Event) {
	if n := len(w.out); n > 0 {
		if last := &w.out[n-1]; last.Path == ev.Path && last.IsDir == ev.IsDir {
			last.Op |= ev.Op
			last.Mask |= ev.Mask
			return
		}
	}
	w.out = append(w.out, ev)
}

// flush delivers the slice being built; false when the watcher is stopping.
// Blocking on a slow consumer is bounded by its promise to receive promptly;
// meanwhile the kernel queues events, and an overflow is repaired.
func (w *treeWatcher) flush() bool {
	if len(w.out) == 0 {
		return true
	}
	if !w.deliver(w.out) {
		return false
	}
	w.out = nil
	return true
}

func (w *treeWatcher) readEvents() error {
	if w.fan != nil {
		return w.readFanotify()
	}
	n, err := w.readQueue(maxEventSize)
	if err != nil || n == 0 {
		return err
	}
	w.consumed += uint64(n)
	now := time.Now()
	for off := 0; off+unix.SizeofInotifyEvent <= n; {
		b := w.buf[off:n]
		wd := int32(binary.NativeEndian.Uint32(b[0:]))
		mask := binary.NativeEndian.Uint32(b[4:])
		cookie := binary.NativeEndian.Uint32(b[8:])
		nameLen := int(binary.NativeEndian.Uint32(b[12:]))
		if unix.SizeofInotifyEvent+nameLen > len(b) {
			return fmt.Errorf("read inotify: truncated event (wd %d, mask %#x)", wd, mask)
		}
		name := b[unix.SizeofInotifyEvent : unix.SizeofInotifyEvent+nameLen]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		off += unix.SizeofInotifyEvent + nameLen
		if err := w.handle(wd, mask, cookie, string(name), now); err != nil {
			return err
		}
	}
	return nil
}

// readQueue reads what the kernel has queued into w.buf and notes when the
// queue was seen empty; it returns 0 when it was. maxEvent is the size of the
// largest event: a read that left that much room took the whole queue.
func (w *treeWatcher) readQueue(maxEvent int) (int, error) {
	for {
		start := time.Now()
		n, err := unix.Read(w.fd, w.buf)
		if err == unix.EINTR {
			continue
		}
		w.lastRead = max(n, 0)
		if err == unix.EAGAIN {
			w.drainedAt = start
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", w.kind(), err)
		}
		if n <= len(w.buf)-maxEvent {
			w.drainedAt = start
		}
		return n, nil
	}
}

// walked tells whether the directory rel is walked and watched.
func (w *treeWatcher) walked(rel string) bool {
	return rel == "" || w.opts.Walk == nil || w.opts.Walk(rel)
}

// monitors tells whether the changes in the directory rel are reported.
func (w *treeWatcher) monitors(rel string) bool {
	return rel == "" || w.opts.Monitor == nil || w.opts.Monitor(rel)
}

// hasRules tells whether Walk or Monitor decide by path, so that a
// directory that moves must be walked again to apply them at its new place.
func (w *treeWatcher) hasRules() bool { return w.opts.Walk != nil || w.opts.Monitor != nil }

func (w *treeWatcher) abs(rel string) string {
	if rel == "" {
		return w.opts.Root
	}
	return w.prefix + rel
}

// handle turns one kernel event into Events and keeps the watches in step.
func (w *treeWatcher) handle(wd int32, mask, cookie uint32, name string, now time.Time) error {
	if w.trace {
		w.log.Debug("inotify event", "wd", wd, "mask", fmt.Sprintf("%#x", mask), "cookie", cookie, "name", name)
	}
	if mask&unix.IN_Q_OVERFLOW != 0 {
		return w.overflowed(now)
	}
	n := w.wds.get(wd)
	if n == nil {
		return nil // forgotten: what is still queued for it is outside the tree now
	}
	if n == w.root {
		if err := w.rootGone(mask); err != nil {
			return err
		}
	}
	if mask&unix.IN_IGNORED != 0 {
		// The kernel dropped the watch (directory deleted, file system
		// unmounted, or our rm_watch): the only moment to forget the wd.
		w.drop(n)
		w.forget(n)
		return nil
	}
	if !n.attached() {
		return nil // removed or moved out, waiting for IN_IGNORED
	}
	if mask&unix.IN_UNMOUNT != 0 {
		// What lies below the mount point now is the directory it covered.
		parent, name, rel := n.parent, n.name, w.relPath(n, "")
		w.drop(n)
		w.newDir(parent, name, event.Event{Path: rel, Op: event.Rescan, IsDir: true, Mask: mask})
		return nil
	}
	if name == "" {
		// A directory's own event. Its parent reports the same under the
		// name, except for the root, which has no watched parent.
		if n == w.root && mask&unix.IN_ATTRIB != 0 {
			w.emit(event.Event{Path: "", Op: event.Attrib, IsDir: true, Mask: mask})
		}
		if mask&unix.IN_DELETE_SELF != 0 {
			w.drop(n)
		}
		return nil
	}
	rel := w.relPath(n, name)
	isDir := mask&unix.IN_ISDIR != 0
	switch {
	case mask&unix.IN_MOVED_FROM != 0:
		w.moveSeq++
		m := &pendingMove{cookie: cookie, parent: n, name: name, rel: rel, isDir: isDir, mask: mask,
			deadline: now.Add(w.opts.MovePairTimeout), seq: w.moveSeq}
		if isDir {
			m.node = w.child(n, name)
		}
		w.moves.add(m)
	case mask&unix.IN_MOVED_TO != 0:
		return w.movedTo(n, name, rel, cookie, isDir, mask)
	case mask&unix.IN_CREATE != 0:
		if isDir {
			w.newDir(n, name, event.Event{Path: rel, Op: event.Create | event.Rescan, IsDir: true, Mask: mask})
		} else {
			w.emitIn(n, event.Event{Path: rel, Op: event.Create, Mask: mask})
		}
	case mask&unix.IN_DELETE != 0:
		// A deleted directory's watch is dropped on its own
		// IN_DELETE_SELF: by name, this could be a newer directory that
		// a walk found there before this event was read.
		w.emitIn(n, event.Event{Path: rel, Op: event.Remove, IsDir: isDir, Mask: mask})
	default:
		if op := maskOp(mask); op != 0 {
			w.emitIn(n, event.Event{Path: rel, Op: op, IsDir: isDir, Mask: mask})
		}
	}
	return nil
}

// rootGone returns the fatal error for an event that means the root is no
// longer the tree being mirrored.
func (w *treeWatcher) rootGone(mask uint32) error {
	var reason string
	switch {
	case mask&unix.IN_DELETE_SELF != 0:
		reason = "root directory was deleted"
	case mask&unix.IN_MOVE_SELF != 0:
		reason = "root directory was moved away"
	case mask&unix.IN_UNMOUNT != 0:
		reason = "root directory's file system was unmounted"
	case mask&unix.IN_IGNORED != 0:
		reason = "the kernel removed the root's watch"
	default:
		return nil
	}
	return &RootError{Root: w.opts.Root, Reason: reason}
}

func (w *treeWatcher) movedTo(parent *node, name, rel string, cookie uint32, isDir bool, mask uint32) error {
	m := w.moves.take(cookie)
	if m == nil { // moved in from outside the tree
		if isDir {
			w.newDir(parent, name, event.Event{Path: rel, Op: event.Create | event.Rescan, IsDir: true, Mask: mask})
		} else {
			w.emitIn(parent, event.Event{Path: rel, Op: event.Create, Mask: mask})
		}
		return nil
	}
	w.emitIn(m.parent, w.removeEvent(m))
	if !isDir {
		w.emitIn(parent, event.Event{Path: rel, Op: event.Create, Mask: mask})
		return nil
	}
	done := event.Event{Path: rel, Op: event.Create | event.Rescan, IsDir: true, Mask: mask}
	// A node that is an ancestor of the destination cannot be what moved
	// (no directory moves into itself): it was taken by name while a walk
	// was ahead of the events, and it stays where it is.
	atSource := m.atSource() && !m.node.isAncestorOf(parent)
	if !atSource || !w.walked(rel) {
		if atSource {
			w.drop(m.node)
		} else if m.node != nil {
			w.push(walkItem{parent: m.parent, name: m.name, top: true,
				job: w.newJob(jobDir, event.Event{Path: w.removeEvent(m).Path, Op: event.Rescan, IsDir: true})})
		}
		w.newDir(parent, name, done)
		return nil
	}
	n := m.node
	w.move(n, parent, name)
	// The node was taken by name when the IN_MOVED_FROM was handled. That
	// is the directory that moved unless a walk got ahead of the queued
	// events, or a RENAME_EXCHANGE swapped two directories (two pairs
	// whose second IN_MOVED_FROM names the first one's target). The inode
	// now at the new name settles it.
	id, err := w.identify(parent, name, n)
	if err != nil {
		return err
	}
	if id != same {
		// Whatever is at the old name now is watched afresh.
		w.push(walkItem{parent: m.parent, name: m.name, top: true,
			job: w.newJob(jobDir, event.Event{Path: w.removeEvent(m).Path, Op: event.Rescan, IsDir: true})})
	}
	if id == elsewhere {
		w.drop(n)
		w.push(walkItem{parent: parent, name: name, job: w.newJob(jobDir, done), top: true})
		return nil
	}
	w.movedDirSettled(parent, name, done)
	return nil
}

// movedDirSettled reports done for a watched directory that moved, with
// its subtree, to name in parent: at once, its whole subtree being in the
// tree under the new path already, unless the rules (which decide by path)
// need a walk at the new place.
func (w *treeWatcher) movedDirSettled(parent *node, name string, done event.Event) {
	if !w.hasRules() {
		w.emitIn(parent, done)
	} else {
		w.push(walkItem{parent: parent, name: name, job: w.newJob(jobDir, done), top: true})
	}
	if w.overflowJob != nil {
		// The running re-walk may have passed both places already.
		w.push(walkItem{parent: parent, name: name, job: w.overflowJob})
	}
}

// expireMoves turns the pending halves whose partner can no longer come into
// moves out of the tree: those past their deadline once the queue was seen
// empty after it, or all of them.
func (w *treeWatcher) expireMoves(all bool) error {
	for _, m := range w.moves.expired(w.drainedAt, all) {
		if m.isDir && m.atSource() {
			// The node was taken by name: if a walk got ahead of the
			// queued events, it is a newer directory still there.
			id, err := w.identify(m.parent, m.name, m.node)
			if err != nil {
				return err
			}
			switch {
			case id == same:
			case id == unsure && !all && time.Since(m.deadline) < deferStaleAfter:
				// Ask again once the events that moved the parent
				// are handled.
				w.moves.add(m)
				continue
			default:
				if id == unsure {
					w.rewalk.overflow(time.Now())
				}
				w.drop(m.node)
			}
		}
		w.emitIn(m.parent, w.removeEvent(m))
	}
	return nil
}

// overflowed handles IN_Q_OVERFLOW: events were lost, so the watches are
// repaired by a re-walk, and the root Rescan is reported when it is done.
func (w *treeWatcher) overflowed(now time.Time) error {
	// The partners of pending halves may be among the lost events.
	if err := w.expireMoves(true); err != nil {
		return err
	}
	if n := w.reapDetached(); n > 0 {
		w.log.Debug("forgot removed watches whose IN_IGNORED the overflow may have lost", "watches", n)
	}
	if !w.rewalk.running && !w.rewalk.scheduled {
		w.log.Warn(fmt.Sprintf("%s queue overflowed: re-walking the tree; raise fs.%s.max_queued_events if this repeats", w.kind(), w.kind()),
			"root", w.opts.Root)
	}
	w.rewalk.overflow(now)
	return nil
}
