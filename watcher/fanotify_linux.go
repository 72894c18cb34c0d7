//go:build linux

package watcher

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/clsync-go/clsync/event"
	"golang.org/x/sys/unix"
)

// fanotify watches whole file systems: one mark per file system instead of a
// watch per directory, so it pins no kernel memory per directory and knows
// no max_user_watches. The kernel does not filter by subtree, so the tree of
// nodes that the walks build (the same as inotify's) is the filter: every
// directory is keyed by its file handle, events name a directory by handle,
// and an event in a directory that is not in the tree is outside the root.
// A directory's node is taken by the handle the event carries (create,
// delete and rename report the child's handle too), never by name, so the
// merging and reordering of queued events (see ../shared/design/backends.md
// A.4) cannot make it take the wrong one.

// fanInitFlags asks for the parent's handle and the name with every event,
// and the child's handle too (Linux 5.17).
const fanInitFlags = unix.FAN_CLASS_NOTIF | unix.FAN_CLOEXEC | unix.FAN_NONBLOCK | unix.FAN_REPORT_DFID_NAME_TARGET

// fanMarkMask is what the file-system marks ask for. FAN_RENAME (one event
// with both names) replaces FAN_MOVED_FROM/TO, which would come as well and
// merge with creations and deletions. The self events are left out: on a
// file-system mark they come for every object.
const fanMarkMask = unix.FAN_CREATE | unix.FAN_DELETE | unix.FAN_RENAME | unix.FAN_MODIFY |
	unix.FAN_CLOSE_WRITE | unix.FAN_ATTRIB | unix.FAN_ONDIR

// fanRootMask is the root's own inode mark: its deletion or move ends the
// watch (a RootError), as inotify's IN_DELETE_SELF/IN_MOVE_SELF do.
const fanRootMask = unix.FAN_DELETE_SELF | unix.FAN_MOVE_SELF | unix.FAN_ONDIR

// fanInMask keeps the bits of a fanotify mask that have inotify's values and
// meaning, for Event.Mask (handlers get inotify's bits on every backend).
const fanInMask = unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CLOSE_WRITE | unix.IN_CREATE | unix.IN_DELETE | unix.IN_ISDIR

// fanMetadataLen is struct fanotify_event_metadata's size. FIONREAD on a
// fanotify group counts this much per queued event, whatever its records
// hold, so Quiesce's byte count (treeWatcher.consumed) counts it per event.
const fanMetadataLen = 24

// fanMaxEventSize bounds one event: the metadata, two directory records
// (header 4, fsid 8, handle header 8, MAX_HANDLE_SZ 128, name with its NUL
// 256) and the child's record (without the name): 980 bytes.
const fanMaxEventSize = 1024

// maxHandleSize is the kernel's MAX_HANDLE_SZ.
const maxHandleSize = 128

// fanotifyGroup is the fanotify side of a treeWatcher.
type fanotifyGroup struct {
	fd int
	// mounts is /proc/self/mountinfo, which polls POLLPRI when a mount
	// comes or goes: fanotify reports no unmount (see checkMounts).
	mounts        int
	mountsChanged bool
	submounts     []string           // the mount points below the root, sorted
	fsids         map[uint64][8]byte // by st_dev, the file systems marked
	// byHandle gives the synthetic wd of each directory in the tree by its
	// key (fsid, then struct file_handle), handleOf the other way. The rest
	// of the tree code keys nodes by wd, as with inotify.
	byHandle map[string]int32
	handleOf map[int32]string
	lastWd   int32
	key      []byte // where keys are built
}

// openFanotify opens the fanotify group when opts ask for it (or Auto finds
// it safe); nil for inotify.
func openFanotify(opts Options) (*fanotifyGroup, error) {
	if opts.Backend == "" || opts.Backend == Inotify {
		return nil, nil
	}
	if _, err := ParseBackend(string(opts.Backend)); err != nil {
		return nil, err
	}
	auto := opts.Backend == Auto
	if opts.Kernel != nil {
		if auto {
			return nil, nil
		}
		return nil, errors.New("monitor fanotify does not work with privilege separation (--splitting) yet: use --monitor=inotify")
	}
	subs, err := readSubmounts(opts.Root)
	if err != nil {
		return nil, err
	}
	if auto && len(subs) > 0 && !opts.OneFileSystem {
		opts.Logger.Info("monitor auto chose inotify: file systems are mounted below the root", "root", opts.Root, "mounts", len(subs))
		return nil, nil
	}
	g, err := newFanotifyGroup(opts.Root, subs)
	if err != nil && auto {
		opts.Logger.Info("monitor auto chose inotify: fanotify cannot serve this root", "root", opts.Root, "reason", err)
		return nil, nil
	}
	if err == nil && auto {
		opts.Logger.Info("monitor auto chose fanotify", "root", opts.Root)
	}
	return g, err
}

func newFanotifyGroup(root string, subs []string) (*fanotifyGroup, error) {
	fd, err := unix.FanotifyInit(fanInitFlags, unix.O_RDONLY|unix.O_LARGEFILE)
	if err != nil {
		return nil, fanInitError(err)
	}
	g := &fanotifyGroup{fd: fd, mounts: -1, submounts: subs,
		fsids: make(map[uint64][8]byte), byHandle: make(map[string]int32), handleOf: make(map[int32]string)}
	if err := unix.FanotifyMark(fd, unix.FAN_MARK_ADD|unix.FAN_MARK_ONLYDIR|unix.FAN_MARK_DONT_FOLLOW, fanRootMask, unix.AT_FDCWD, root); err != nil {
		unix.Close(fd)
		var st unix.Statfs_t
		_ = unix.Statfs(root, &st)
		return nil, fanMarkError(root, st.Type, err)
	}
	g.mounts, err = unix.Open("/proc/self/mountinfo", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("open /proc/self/mountinfo: %w (fanotify reports no unmount: mount /proc)", err)
	}
	return g, nil
}

// close releases the group's own descriptors but the group itself, which
// is the watcher's fd; nil-safe.
func (g *fanotifyGroup) close() error {
	if g == nil || g.mounts < 0 {
		return nil
	}
	err := unix.Close(g.mounts)
	g.mounts = -1
	return err
}

// addWatch puts the directory open as dfd (at path, for messages) in the
// tree: its file system is marked if it is not yet (before the walk lists
// the directory, so that nothing created after the listing goes unseen),
// and its handle gets a wd, the same one each time, as inotify gives.
func (g *fanotifyGroup) addWatch(dfd int, st *unix.Stat_t, path string) (int32, error) {
	fsid, err := g.markFS(dfd, st.Dev, path)
	if err != nil {
		return -1, err
	}
	key, err := g.handleKey(dfd, fsid)
	if err != nil {
		var sfs unix.Statfs_t
		_ = unix.Fstatfs(dfd, &sfs)
		return -1, &WatchError{Op: "watch", Path: path, Err: err,
			Detail: fmt.Sprintf("name_to_handle_at: %v: fanotify needs file handles, which this %s file system does not give (overlayfs needs nfs_export=on): use --monitor=inotify", err, fsTypeName(sfs.Type))}
	}
	if wd, ok := g.byHandle[string(key)]; ok {
		return wd, nil
	}
	wd := g.newWd()
	k := string(key)
	g.byHandle[k], g.handleOf[wd] = wd, k
	return wd, nil
}

// rmWatch forgets the handle of wd. It returns EINVAL, as inotify does for a
// watch the kernel has destroyed, so that the node is forgotten at once:
// fanotify queues nothing like IN_IGNORED, and events still queued for the
// directory no longer find it.
func (g *fanotifyGroup) rmWatch(wd int32) error {
	if k, ok := g.handleOf[wd]; ok {
		delete(g.byHandle, k)
		delete(g.handleOf, wd)
	}
	return unix.EINVAL
}

// newWd hands out the next wd not in use; they wrap after 2^31 directories.
func (g *fanotifyGroup) newWd() int32 {
	for {
		g.lastWd++
		if g.lastWd <= 0 {
			g.lastWd = 1
		}
		if _, used := g.handleOf[g.lastWd]; !used {
			return g.lastWd
		}
	}
}

// markFS marks the file system of dfd (st_dev dev) once and returns its fsid.
func (g *fanotifyGroup) markFS(dfd int, dev uint64, path string) ([8]byte, error) {
	if fsid, ok := g.fsids[dev]; ok {
		return fsid, nil
	}
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(dfd, &sfs); err != nil {
		return [8]byte{}, &WatchError{Op: "statfs", Path: path, Err: err}
	}
	if err := unix.FanotifyMark(g.fd, unix.FAN_MARK_ADD|unix.FAN_MARK_FILESYSTEM, fanMarkMask, dfd, ""); err != nil {
		return [8]byte{}, fanMarkError(path, sfs.Type, err)
	}
	var fsid [8]byte
	binary.NativeEndian.PutUint32(fsid[0:], uint32(sfs.Fsid.Val[0]))
	binary.NativeEndian.PutUint32(fsid[4:], uint32(sfs.Fsid.Val[1]))
	g.fsids[dev] = fsid
	return fsid, nil
}

// handleKey returns, in g.key, the key of the directory open as dfd: the
// fsid and struct file_handle {u32 bytes; i32 type; bytes}, laid out as in
// the kernel's records (see parseFid), so that events are looked up in
// place.
func (g *fanotifyGroup) handleKey(dfd int, fsid [8]byte) ([]byte, error) {
	if cap(g.key) < 16+maxHandleSize {
		g.key = make([]byte, 16+maxHandleSize)
	}
	k := g.key[:16+maxHandleSize]
	copy(k, fsid[:])
	binary.NativeEndian.PutUint32(k[8:], maxHandleSize)
	var mountID int32
	empty := [1]byte{}
	for {
		_, _, errno := unix.Syscall6(unix.SYS_NAME_TO_HANDLE_AT, uintptr(dfd), uintptr(unsafe.Pointer(&empty[0])),
			uintptr(unsafe.Pointer(&k[8])), uintptr(unsafe.Pointer(&mountID)), unix.AT_EMPTY_PATH, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return nil, errno
		}
		break
	}
	n := int(binary.NativeEndian.Uint32(k[8:]))
	return k[:16+min(n, maxHandleSize)], nil
}

// fanNode returns the attached node of the directory whose key is k, or nil.
func (w *treeWatcher) fanNode(k []byte) *node {
	if k == nil {
		return nil
	}
	wd, ok := w.fan.byHandle[string(k)]
	if !ok {
		return nil
	}
	if n := w.wds.get(wd); n != nil && n.attached() {
		return n
	}
	return nil
}

// fanRecord is one fanotify event: its mask and what its info records name
// (slices of the read buffer, valid until the next read). Keys are as
// handleKey builds them.
type fanRecord struct {
	mask            uint64
	dir, name       []byte // FAN_EVENT_INFO_TYPE_DFID_NAME
	oldDir, oldName []byte // OLD_DFID_NAME (FAN_RENAME)
	newDir, newName []byte // NEW_DFID_NAME (FAN_RENAME)
	child           []byte // FID: the object itself
}

// parseFanEvent decodes the event at the start of b; it returns the event
// and its length.
func parseFanEvent(b []byte) (fanRecord, int, error) {
	if len(b) < fanMetadataLen {
		return fanRecord{}, 0, fmt.Errorf("truncated event (%d bytes)", len(b))
	}
	evLen := int(binary.NativeEndian.Uint32(b[0:]))
	metaLen := int(binary.NativeEndian.Uint16(b[6:]))
	if b[4] != unix.FANOTIFY_METADATA_VERSION {
		return fanRecord{}, 0, fmt.Errorf("event metadata version %d, want %d", b[4], unix.FANOTIFY_METADATA_VERSION)
	}
	if metaLen < fanMetadataLen || evLen < metaLen || evLen > len(b) {
		return fanRecord{}, 0, fmt.Errorf("event of %d bytes with %d of metadata in %d", evLen, metaLen, len(b))
	}
	r := fanRecord{mask: binary.NativeEndian.Uint64(b[8:])}
	if fd := int32(binary.NativeEndian.Uint32(b[16:])); fd >= 0 {
		// FID groups report no descriptor; one would leak if they did.
		unix.Close(int(fd))
	}
	for info := b[metaLen:evLen]; len(info) > 0; {
		if len(info) < 4 {
			return fanRecord{}, 0, fmt.Errorf("truncated info record (%d bytes)", len(info))
		}
		typ, l := info[0], int(binary.NativeEndian.Uint16(info[2:]))
		if l < 4 || l > len(info) {
			return fanRecord{}, 0, fmt.Errorf("info record of %d bytes in %d", l, len(info))
		}
		body := info[4:l]
		info = info[l:]
		var err error
		switch typ {
		case unix.FAN_EVENT_INFO_TYPE_FID:
			r.child, _, err = parseFid(body, false)
		case unix.FAN_EVENT_INFO_TYPE_DFID_NAME:
			r.dir, r.name, err = parseFid(body, true)
		case unix.FAN_EVENT_INFO_TYPE_OLD_DFID_NAME:
			r.oldDir, r.oldName, err = parseFid(body, true)
		case unix.FAN_EVENT_INFO_TYPE_NEW_DFID_NAME:
			r.newDir, r.newName, err = parseFid(body, true)
		}
		if err != nil {
			return fanRecord{}, 0, err
		}
	}
	return r, evLen, nil
}

// parseFid splits a FID record's body: fsid, struct file_handle and, if
// named, a NUL-terminated name. The key is fsid and handle together.
func parseFid(body []byte, named bool) (key, name []byte, err error) {
	if len(body) < 16 {
		return nil, nil, fmt.Errorf("fid record of %d bytes", len(body))
	}
	hb := uint64(binary.NativeEndian.Uint32(body[8:]))
	if hb > maxHandleSize || hb > uint64(len(body)-16) {
		return nil, nil, fmt.Errorf("file handle of %d bytes in a record of %d", hb, len(body))
	}
	key = body[:16+hb]
	if !named {
		return key, nil, nil
	}
	rest := body[16+hb:]
	i := bytes.IndexByte(rest, 0)
	if i <= 0 {
		return nil, nil, errors.New("fid record without a name")
	}
	return key, rest[:i], nil
}

// readFanotify reads the queue and handles what it holds.
func (w *treeWatcher) readFanotify() error {
	n, err := w.readQueue(fanMaxEventSize)
	if err != nil || n == 0 {
		return err
	}
	now := time.Now()
	for off := 0; off < n; {
		r, l, err := parseFanEvent(w.buf[off:n])
		if err != nil {
			return fmt.Errorf("read fanotify: %w", err)
		}
		off += l
		w.consumed += fanMetadataLen
		if err := w.handleFan(r, now); err != nil {
			return err
		}
	}
	return nil
}

// handleFan turns one fanotify event into Events and keeps the tree in step.
// fanotify merges an event into an older queued one about the same object,
// so the bits of a mask are a set, not a sequence: what is there now is
// left to the consumer's lstat, and a directory is taken by its handle.
func (w *treeWatcher) handleFan(r fanRecord, now time.Time) error {
	if w.trace {
		w.log.Debug("fanotify event", "mask", fmt.Sprintf("%#x", r.mask), "name", string(r.name),
			"old", string(r.oldName), "new", string(r.newName))
	}
	switch {
	case r.mask&unix.FAN_Q_OVERFLOW != 0:
		return w.overflowed(now)
	case r.mask&unix.FAN_DELETE_SELF != 0:
		// Only the root's inode mark asks for self events.
		return &RootError{Root: w.opts.Root, Reason: "root directory was deleted"}
	case r.mask&unix.FAN_MOVE_SELF != 0:
		return &RootError{Root: w.opts.Root, Reason: "root directory was moved away"}
	case r.mask&unix.FAN_RENAME != 0:
		w.fanRenamed(r)
		return nil
	}
	n := w.fanNode(r.dir)
	if n == nil {
		return nil // outside the tree, or in a directory that is not walked
	}
	isDir := r.mask&unix.FAN_ONDIR != 0
	mask := uint32(r.mask) & fanInMask
	if string(r.name) == "." {
		// A directory's own event; its parent's, under the name, may
		// come too, and the root has none.
		if r.mask&unix.FAN_ATTRIB != 0 {
			if n == w.root {
				w.emit(event.Event{Path: "", Op: event.Attrib, IsDir: true, Mask: mask})
			} else {
				w.emitIn(n.parent, event.Event{Path: w.relPath(n, ""), Op: event.Attrib, IsDir: true, Mask: mask})
			}
		}
		return nil
	}
	name := string(r.name)
	rel := w.relPath(n, name)
	if isDir {
		switch {
		case r.mask&unix.FAN_DELETE != 0:
			// By the handle: a newer directory of that name, which a
			// walk may have found already, stays.
			if c := w.fanNode(r.child); c != nil && c != w.root {
				w.drop(c)
			}
			w.emitIn(n, event.Event{Path: rel, Op: event.Remove, IsDir: true, Mask: mask})
		case r.mask&unix.FAN_CREATE != 0:
			w.newDir(n, name, event.Event{Path: rel, Op: event.Create | event.Rescan, IsDir: true, Mask: mask})
		case r.mask&unix.FAN_ATTRIB != 0:
			w.emitIn(n, event.Event{Path: rel, Op: event.Attrib, IsDir: true, Mask: mask})
		}
		return nil
	}
	if op := maskOp(mask); op != 0 {
		w.emitIn(n, event.Event{Path: rel, Op: op, Mask: mask})
	}
	return nil
}

// fanRenamed handles FAN_RENAME, which names both places and the object
// moved: no cookies to pair, and the moved directory is known by its handle.
func (w *treeWatcher) fanRenamed(r fanRecord) {
	isDir := r.mask&unix.FAN_ONDIR != 0
	var dirBit uint32
	var moved *node
	if isDir {
		dirBit = unix.IN_ISDIR
		if moved = w.fanNode(r.child); moved == w.root {
			moved = nil
		}
	}
	from, to := w.fanNode(r.oldDir), w.fanNode(r.newDir)
	if from != nil {
		w.emitIn(from, event.Event{Path: w.relPath(from, string(r.oldName)), Op: event.Remove, IsDir: isDir, Mask: unix.IN_MOVED_FROM | dirBit})
	}
	if to == nil {
		// Moved out of the tree, or into a directory that is not walked.
		if moved != nil {
			w.drop(moved)
		}
		return
	}
	name := string(r.newName)
	rel := w.relPath(to, name)
	if !isDir {
		w.emitIn(to, event.Event{Path: rel, Op: event.Create, Mask: unix.IN_MOVED_TO})
		return
	}
	done := event.Event{Path: rel, Op: event.Create | event.Rescan, IsDir: true, Mask: unix.IN_MOVED_TO | dirBit}
	if moved != nil && moved.isAncestorOf(to) {
		// No directory moves into itself: the tree is out of step with
		// the disk (a walk ahead of the queue), and a re-walk repairs it.
		w.log.Warn("watch tree out of step with the disk; re-walking", "path", w.abs(rel))
		w.rewalk.overflow(time.Now())
		return
	}
	if moved == nil || !w.walked(rel) {
		if moved != nil {
			w.drop(moved)
		}
		w.newDir(to, name, done)
		return
	}
	w.move(moved, to, name)
	w.movedDirSettled(to, name, done)
}

// checkMounts handles a change of the mounts, which fanotify does not
// report: the root must still be the pinned directory (an unmount of its
// file system stops the watcher, as inotify's IN_UNMOUNT does), and each
// mount point below it that came or went is watched and rescanned afresh
// (what is there now is another directory).
func (w *treeWatcher) checkMounts() error {
	w.fan.mountsChanged = false
	if err := w.pin.Check(); err != nil {
		return err
	}
	subs, err := readSubmounts(w.opts.Root)
	if err != nil {
		return err
	}
	var changed []string
	for _, m := range subs {
		if _, found := slices.BinarySearch(w.fan.submounts, m); !found {
			changed = append(changed, m)
		}
	}
	for _, m := range w.fan.submounts {
		if _, found := slices.BinarySearch(subs, m); !found {
			changed = append(changed, m)
		}
	}
	w.fan.submounts = subs
	// Outer mount points first: a walk of one covers those below it.
	slices.Sort(changed)
	for _, m := range changed {
		rel := strings.TrimPrefix(strings.TrimPrefix(m, w.opts.Root), "/")
		parent := w.nodeAt(path.Dir(rel))
		if parent == nil {
			continue // not walked, or below a mount point handled already
		}
		name := path.Base(rel)
		if old := w.child(parent, name); old != nil {
			w.drop(old)
		}
		w.log.Info("mounts changed below the root: rescanning", "path", m)
		w.newDir(parent, name, event.Event{Path: rel, Op: event.Rescan, IsDir: true})
	}
	return nil
}

// nodeAt returns the attached node at rel ("." or "" for the root), or nil.
func (w *treeWatcher) nodeAt(rel string) *node {
	n := w.root
	if rel == "." || rel == "" {
		return n
	}
	for part := range strings.SplitSeq(rel, "/") {
		if n = w.child(n, part); n == nil {
			return nil
		}
	}
	return n
}

// readSubmounts lists, sorted, the mount points strictly below root.
func readSubmounts(root string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	return submountsIn(b, root), nil
}

// submountsIn lists, sorted and once each, the mount points strictly below
// root in mountinfo.
func submountsIn(mountinfo []byte, root string) []string {
	prefix := strings.TrimSuffix(root, "/") + "/"
	var out []string
	for line := range bytes.SplitSeq(mountinfo, []byte{'\n'}) {
		// id parent major:minor root mount-point options ...
		fields := bytes.Fields(line)
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountinfo(string(fields[4]))
		if strings.HasPrefix(mp, prefix) && len(mp) > len(prefix) {
			out = append(out, mp)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for a space) of
// a mountinfo field.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// fsTypeName names a statfs f_type for messages.
func fsTypeName(magic int64) string {
	switch uint32(magic) {
	case unix.EXT4_SUPER_MAGIC:
		return "ext4"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.FUSE_SUPER_MAGIC:
		return "FUSE"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlayfs"
	case unix.NFS_SUPER_MAGIC:
		return "NFS"
	case unix.PROC_SUPER_MAGIC:
		return "proc"
	}
	return fmt.Sprintf("%#x", uint32(magic))
}

// fanInitError explains a fanotify_init failure.
func fanInitError(err error) error {
	var why string
	switch {
	case errors.Is(err, unix.EINVAL):
		why = "this kernel cannot report directory handles and names with renames (Linux 5.17 or later is needed)"
	case errors.Is(err, unix.ENOSYS):
		why = "this kernel has no fanotify"
	case errors.Is(err, unix.EPERM):
		why = "fanotify needs CAP_SYS_ADMIN (run as root)"
	case errors.Is(err, unix.EMFILE):
		why = fmt.Sprintf("too many fanotify groups (%s=%d) or open files",
			"fs.fanotify.max_user_groups", readInt("/proc/sys/fs/fanotify/max_user_groups"))
	default:
		why = err.Error()
	}
	return fmt.Errorf("fanotify_init: %w: %s: use --monitor=inotify", err, why)
}

// fanMarkError explains why the file system at path (of type magic) cannot
// be marked.
func fanMarkError(path string, magic int64, err error) error {
	fs := fsTypeName(magic)
	we := &WatchError{Op: "watch", Path: path, Err: err}
	switch {
	case errors.Is(err, unix.EXDEV):
		we.Detail = fmt.Sprintf("fanotify cannot watch a %s subvolume as a whole file system: use --monitor=inotify", fs)
	case errors.Is(err, unix.ENODEV):
		we.Detail = fmt.Sprintf("fanotify cannot watch this %s file system (it has no fsid): use --monitor=inotify", fs)
	case errors.Is(err, unix.EOPNOTSUPP):
		we.Detail = fmt.Sprintf("fanotify cannot watch this %s file system (no file handles): use --monitor=inotify", fs)
	case errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES):
		we.Detail = "fanotify needs CAP_SYS_ADMIN to watch a whole file system (run as root): use --monitor=inotify"
	case errors.Is(err, unix.EINVAL):
		we.Detail = "this kernel cannot report renames with fanotify (Linux 5.17 or later is needed): use --monitor=inotify"
	default:
		we.Detail = fmt.Sprintf("fanotify_mark on this %s file system: %v: use --monitor=inotify", fs, err)
	}
	return we
}
