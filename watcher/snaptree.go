package watcher

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/clsync-go/clsync/event"
	"golang.org/x/sys/unix"
)

// snapDir is one tracked directory: walked, watched by the kernel, and
// listed. Its path is built from its parents, so a rename moves one node.
type snapDir struct {
	parent  *snapDir // nil for the root
	name    string
	self    snapEntry            // the directory's own identity, as watched
	entries map[string]snapEntry // its last listing
	subdirs map[string]*snapDir  // the entries that are tracked directories
	// monitored: its changes are reported (Options.Monitor at its path).
	monitored bool
	state     snapState
	deadline  time.Time // while snapLeft: when its subtree is dropped
	// deleted: the kernel said so (and dropped an inotify watch with it).
	// A new directory may get its inode number at once (inotify's watch
	// does not keep the inode), so its identity no longer tells it.
	deleted bool
	// named are the entries the kernel named as added, removed or renamed
	// since the last listing (true: a directory), when it names them
	// (inotify, not kqueue); see apply.
	named map[string]bool
}

type snapState uint8

const (
	snapAttached snapState = iota
	// snapLeft: gone from its parent's listing, still watched for a
	// while so that, if it shows up in another listing (a rename whose
	// halves were seen one after the other), its subtree is moved there
	// instead of being walked again.
	snapLeft
	snapDropped // no longer watched
)

// rel is d's path below the root, "" for the root.
func (d *snapDir) rel() string {
	if d.parent == nil {
		return ""
	}
	var parts []string
	for x := d; x.parent != nil; x = x.parent {
		parts = append(parts, x.name)
	}
	slices.Reverse(parts)
	return strings.Join(parts, "/")
}

// inTree tells whether d and all its ancestors are attached: what happens
// below a directory that left is reported by its Remove and, if it shows up
// again, by the Rescan of its new place.
func (d *snapDir) inTree() bool {
	for x := d; x != nil; x = x.parent {
		if x.state != snapAttached {
			return false
		}
	}
	return true
}

func (d *snapDir) isAncestorOf(x *snapDir) bool {
	for ; x != nil; x = x.parent {
		if x == d {
			return true
		}
	}
	return false
}

// snapKernel adds and removes the kernel's watch of a directory. watchDir
// is called before the directory is listed (the mkdir race: whatever is
// created after the listing must be notified) and returns the identity of
// what it watches; an error matching snapVanished means the directory is
// no longer there.
type snapKernel interface {
	watchDir(d *snapDir) (snapEntry, error)
	unwatchDir(d *snapDir)
}

// snapRewatcher is a snapKernel whose watch does not keep the directory's
// inode (inotify): when notifications were lost, the kernel may have
// dropped the watch of a deleted directory unseen, and a new directory with
// its inode number would pass for it. rewatch makes sure that, if the
// directory at d's path has d's identity, d's watch is on it.
type snapRewatcher interface {
	rewatch(d *snapDir) error
}

// snapFileKernel is a snapKernel that must watch every regular file too
// (kqueue: a write does not touch the directory). watchFile returns the
// identity of what it opened: it may differ from the listing that named it.
type snapFileKernel interface {
	watchFile(d *snapDir, name string) (snapEntry, error)
	unwatchFile(d *snapDir, name string)
}

// snapLister reads directories. list returns the identity of what it
// listed, so that a path gone stale (an ancestor renamed, its notification
// not handled yet) is told from the directory.
type snapLister interface {
	list(d *snapDir) (self snapEntry, entries map[string]snapEntry, err error)
	stat(d *snapDir, name string) (snapEntry, error)
}

// snapVanished tells whether err means the object is not there (any more)
// as named without following symlinks (FreeBSD's O_NOFOLLOW fails with
// EMLINK where Linux says ELOOP).
func snapVanished(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) ||
		errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EMLINK)
}

// snapStaleAfter bounds how long a directory whose path is stale waits for
// the notification that explains it; past it the tree is re-listed.
const snapStaleAfter = time.Second

// snapStale is a directory whose listing must be retried.
type snapStale struct {
	since time.Time // first found stale
	at    time.Time // last tried
}

// snapConfig is what the core needs of Options.
type snapConfig struct {
	pin     Root
	walk    func(rel string) bool // nil: everything
	monitor func(rel string) bool // nil: everything
	oneFS   bool
	// window is how long a directory that left its parent stays watched,
	// waiting to be seen in another listing (Options.MovePairTimeout).
	window time.Duration
	// tracked, when set, is called with the number of directories tracked
	// after each one New's walk adds (for Options.Progress).
	tracked func(dirs int)
}

// snapCore is the snapshot of the watched tree, fed by notifications that
// say only which directory or file changed; it re-lists and diffs to tell
// what. Its methods take the time as an argument, so tests decide it.
type snapCore struct {
	cfg    snapConfig
	kernel snapKernel
	files  snapFileKernel // nil: the kernel reports file writes by directory
	lister snapLister
	root   *snapDir
	// byID finds a tracked directory by identity, to recognise it when it
	// turns up under another name.
	byID map[snapID]*snapDir
	dirs int // tracked directories

	changed map[*snapDir]struct{} // notified since the last process
	stale   map[*snapDir]snapStale
	// outdated are directories below one that left whose listing failed
	// (their path is unknown): listed again if that one shows up elsewhere.
	outdated   map[*snapDir]struct{}
	left       []*snapDir // in snapLeft, oldest first
	overflowed bool
	rootGone   bool
	rootAttrib bool
	quiet      bool   // re-listing after an overflow: one root Rescan says it all
	overflows  uint64 // full re-lists so far
	out        []event.Event
}

func newSnapCore(cfg snapConfig, kernel snapKernel, lister snapLister) *snapCore {
	c := &snapCore{cfg: cfg, kernel: kernel, lister: lister,
		byID: make(map[snapID]*snapDir), changed: make(map[*snapDir]struct{}), stale: make(map[*snapDir]snapStale),
		outdated: make(map[*snapDir]struct{})}
	c.files, _ = kernel.(snapFileKernel)
	return c
}

func (c *snapCore) walks(rel string) bool { return rel == "" || c.cfg.walk == nil || c.cfg.walk(rel) }

func (c *snapCore) monitors(rel string) bool {
	return rel == "" || c.cfg.monitor == nil || c.cfg.monitor(rel)
}

func (c *snapCore) hasRules() bool { return c.cfg.walk != nil || c.cfg.monitor != nil }

func (c *snapCore) abs(rel string) string {
	switch {
	case rel == "":
		return c.cfg.pin.Path
	case c.cfg.pin.Path == "/":
		return "/" + rel
	}
	return c.cfg.pin.Path + "/" + rel
}

// snapJoin is dir/name below the root.
func snapJoin(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// fail explains an error of the kernel or the lister on rel; a *WatchError
// made by the shim (which knows the limits to name) is kept as it is.
func (c *snapCore) fail(op, rel string, err error) error {
	var we *WatchError
	if errors.As(err, &we) {
		return err
	}
	return &WatchError{Op: op, Path: c.abs(rel), Err: err}
}

// start watches and lists the whole tree; nothing is reported (the caller's
// initial sync covers it).
func (c *snapCore) start(now time.Time) error {
	c.root = &snapDir{monitored: true, entries: map[string]snapEntry{}, subdirs: map[string]*snapDir{}}
	self, err := c.kernel.watchDir(c.root)
	if err != nil {
		if snapVanished(err) {
			return &RootError{Root: c.cfg.pin.Path, Reason: "root directory was deleted or moved away"}
		}
		return c.fail("watch", "", err)
	}
	c.root.self = self
	c.dirs++
	if !c.cfg.pin.Is(self.dev, self.ino) {
		return &RootError{Root: c.cfg.pin.Path, Reason: "root directory was replaced by another"}
	}
	c.byID[self.id()] = c.root
	return c.fill(c.root, now)
}

// walkable tells whether the directory e, named name in d, is to be tracked.
func (c *snapCore) walkable(d *snapDir, name string, e snapEntry) bool {
	return c.walks(snapJoin(d.rel(), name)) && (!c.cfg.oneFS || e.dev == c.cfg.pin.Dev)
}

// track watches, then lists, the directory e that the listing of parent
// named name, and its subtree. It returns nil if that directory is no longer
// there: the parent's notification about it is queued.
func (c *snapCore) track(parent *snapDir, name string, e snapEntry, now time.Time) (*snapDir, error) {
	d := &snapDir{parent: parent, name: name, self: e, entries: map[string]snapEntry{}, subdirs: map[string]*snapDir{}}
	parent.subdirs[name] = d
	d.monitored = c.monitors(d.rel())
	self, err := c.kernel.watchDir(d)
	if err != nil {
		delete(parent.subdirs, name)
		if snapVanished(err) {
			// Deleted, or the parent's path is stale (an ancestor's
			// rename is queued): list the parent again once the queue
			// is handled, which reports the name again if it is there.
			delete(parent.entries, name)
			c.markStale(parent, now)
			return nil, nil
		}
		return nil, c.fail("watch", d.rel(), err)
	}
	c.dirs++
	if !self.sameObject(e) {
		// Another directory took the name since the listing, or the
		// parent's path is stale: retry the parent once the queued
		// notifications are handled.
		c.kernel.unwatchDir(d)
		c.dirs--
		delete(parent.subdirs, name)
		delete(parent.entries, name)
		c.markStale(parent, now)
		return nil, nil
	}
	c.byID[self.id()] = d
	if c.cfg.tracked != nil {
		c.cfg.tracked(c.dirs)
	}
	return d, c.fill(d, now)
}

// fill lists the new directory d and tracks its subtree.
func (c *snapCore) fill(d *snapDir, now time.Time) error {
	self, entries, err := c.lister.list(d)
	if err != nil {
		if snapVanished(err) {
			c.markStale(d, now)
			return nil
		}
		return c.fail("scan", d.rel(), err)
	}
	if !self.sameObject(d.self) {
		c.markStale(d, now)
		return nil
	}
	d.entries = entries
	for _, name := range snapNames(entries) {
		e := entries[name]
		switch {
		case e.isDir:
			if c.walkable(d, name, e) {
				if _, err := c.track(d, name, e, now); err != nil {
					return err
				}
			}
		case d.monitored && e.regular() && c.files != nil:
			if err := c.watchFile(d, name); err != nil {
				return err
			}
		}
	}
	return nil
}

func snapNames(entries map[string]snapEntry) []string {
	names := make([]string, 0, len(entries))
	for name := range entries {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// watchFile watches the regular file name of d and records what it opened.
func (c *snapCore) watchFile(d *snapDir, name string) error {
	e, err := c.files.watchFile(d, name)
	if err != nil {
		if snapVanished(err) {
			delete(d.entries, name)
			return nil
		}
		return c.fail("watch", snapJoin(d.rel(), name), err)
	}
	d.entries[name] = e
	return nil
}

// watchesFiles tells whether the files of d have watches of their own.
func (c *snapCore) watchesFiles(d *snapDir) bool { return c.files != nil && d.monitored }

// untrack stops watching d and its subtree.
func (c *snapCore) untrack(d *snapDir) {
	for _, s := range d.subdirs {
		c.untrack(s)
	}
	if c.watchesFiles(d) {
		for name, e := range d.entries {
			if e.regular() {
				c.files.unwatchFile(d, name)
			}
		}
	}
	c.kernel.unwatchDir(d)
	c.dirs--
	if c.byID[d.self.id()] == d {
		delete(c.byID, d.self.id())
	}
	delete(c.stale, d)
	delete(c.outdated, d)
	d.state = snapDropped
}

// dirChanged notes that an entry of d was added, removed or renamed.
func (c *snapCore) dirChanged(d *snapDir) {
	if d.state != snapDropped {
		c.changed[d] = struct{}{}
	}
}

// entryChanged notes that the entry name of d was added, removed or
// renamed, as a kernel that names it says.
func (c *snapCore) entryChanged(d *snapDir, name string, isDir bool) {
	if d.state == snapDropped {
		return
	}
	if d.named == nil {
		d.named = make(map[string]bool)
	}
	d.named[name] = isDir
	c.changed[d] = struct{}{}
}

// dirGone notes that d itself was deleted or renamed: its parent says
// what became of it.
func (c *snapCore) dirGone(d *snapDir) {
	switch {
	case d == c.root:
		c.rootGone = true
	case d.parent != nil && d.state != snapDropped:
		c.changed[d.parent] = struct{}{}
	}
}

// dirDeleted notes that d itself was deleted (or its watch dropped by the
// kernel, which it does only then): unlike a renamed directory it can never
// show up elsewhere, and its inode number may already belong to a new one.
func (c *snapCore) dirDeleted(d *snapDir) {
	d.deleted = true
	if c.byID[d.self.id()] == d {
		delete(c.byID, d.self.id())
	}
	c.dirGone(d)
}

// selfAttrib notes that d's own metadata changed. Only the root's is
// reported this way: a subdirectory's shows in its parent's listing.
func (c *snapCore) selfAttrib(d *snapDir) {
	if d == c.root {
		c.rootAttrib = true
	}
}

// overflow notes that notifications were lost: everything is re-listed.
func (c *snapCore) overflow() { c.overflowed = true }

// fileChanged handles a write (Modify) or metadata change (Attrib) of the
// file name in d, known by a watch on the file, which would not show in a
// listing if size and mtime stayed the same.
func (c *snapCore) fileChanged(d *snapDir, name string, op event.Op) {
	if d.state == snapDropped {
		return
	}
	old, known := d.entries[name]
	now, err := c.lister.stat(d, name)
	if err != nil || !known || !now.sameObject(old) {
		// Renamed or replaced meanwhile: the directory's listing tells.
		c.dirChanged(d)
		return
	}
	d.entries[name] = now
	if d.monitored && d.inTree() {
		c.emit(event.Event{Path: snapJoin(d.rel(), name), Op: op | snapEntryOp(old, now)})
	}
}

func (c *snapCore) markStale(d *snapDir, now time.Time) {
	if !d.inTree() {
		c.outdated[d] = struct{}{}
		return
	}
	s, ok := c.stale[d]
	if !ok {
		s.since = now
	}
	s.at = now
	c.stale[d] = s
}

// pending tells whether work waits for the queue to be seen empty: stale
// listings to retry.
func (c *snapCore) pending() bool { return len(c.stale) > 0 }

// nextDeadline is when the oldest directory that left is to be dropped.
func (c *snapCore) nextDeadline() (time.Time, bool) {
	for _, d := range c.left {
		if d.state == snapLeft {
			return d.deadline, true
		}
	}
	return time.Time{}, false
}

// process handles what was notified since the last call. drainedAt is the
// start of the last read that found the kernel's queue empty: a stale
// listing is retried, and a directory that left is dropped, only once the
// notifications queued with them have been handled.
func (c *snapCore) process(now, drainedAt time.Time) error {
	if c.rootGone {
		c.rootGone = false
		if err := c.cfg.pin.Check(); err != nil {
			return err
		}
	}
	if c.rootAttrib {
		c.rootAttrib = false
		c.emit(event.Event{Path: "", Op: event.Attrib, IsDir: true})
	}
	if c.overflowed {
		return c.relistAll(now)
	}
	for d, s := range c.stale {
		switch {
		case d.state == snapDropped:
			delete(c.stale, d)
		case !d.inTree():
			delete(c.stale, d)
			c.outdated[d] = struct{}{}
		case now.Sub(s.since) > snapStaleAfter:
			// No queued notification explains it: re-list everything.
			c.overflowed = true
		case s.at.Before(drainedAt):
			c.changed[d] = struct{}{}
		}
	}
	if c.overflowed {
		return c.relistAll(now)
	}
	// A subtree moved in may bring directories to list (see moveIn):
	// another round.
	for len(c.changed) > 0 {
		queue := make([]*snapDir, 0, len(c.changed))
		for d := range c.changed {
			queue = append(queue, d)
		}
		clear(c.changed)
		// Parents first: a rename they show moves the subtree, so that
		// the paths of the directories below are right when listed.
		slices.SortFunc(queue, func(a, b *snapDir) int { return snapDepth(a) - snapDepth(b) })
		for _, d := range queue {
			if err := c.relist(d, now); err != nil {
				return err
			}
		}
	}
	c.expire(drainedAt, false)
	return nil
}

func snapDepth(d *snapDir) int {
	n := 0
	for ; d.parent != nil; d = d.parent {
		n++
	}
	return n
}

// relistAll re-lists every tracked directory after lost notifications and
// reports one root Rescan instead of the differences.
func (c *snapCore) relistAll(now time.Time) error {
	if err := c.cfg.pin.Check(); err != nil {
		return err
	}
	c.overflowed = false
	c.overflows++
	clear(c.changed)
	clear(c.stale)
	clear(c.outdated)
	c.quiet = true
	defer func() { c.quiet = false }()
	for queue := []*snapDir{c.root}; len(queue) > 0; {
		d := queue[0]
		queue = queue[1:]
		if d.state != snapAttached {
			continue
		}
		// Before the listing, as in track: what changes after it is
		// notified.
		if rw, ok := c.kernel.(snapRewatcher); ok {
			if err := rw.rewatch(d); err != nil {
				return c.fail("watch", d.rel(), err)
			}
		}
		if err := c.relist(d, now); err != nil {
			return err
		}
		for _, name := range slices.Sorted(maps.Keys(d.subdirs)) {
			queue = append(queue, d.subdirs[name])
		}
	}
	c.expire(time.Time{}, true)
	c.emit(event.Event{Path: "", Op: event.Rescan, IsDir: true})
	return nil
}

// expire drops the directories that left before drainedAt's window (all of
// them with all set): no listing showed them elsewhere.
func (c *snapCore) expire(drainedAt time.Time, all bool) {
	keep := c.left[:0]
	for _, d := range c.left {
		switch {
		case d.state != snapLeft:
		case all || d.deadline.Before(drainedAt):
			c.untrack(d)
		default:
			keep = append(keep, d)
		}
	}
	clear(c.left[len(keep):])
	c.left = keep
}

// relist lists d again and applies the difference.
func (c *snapCore) relist(d *snapDir, now time.Time) error {
	if d.state == snapDropped {
		return nil
	}
	self, entries, err := c.lister.list(d)
	if err != nil {
		if !snapVanished(err) {
			return c.fail("scan", d.rel(), err)
		}
		// Deleted, or its path is stale: its parent's notification
		// explains it.
		c.markStale(d, now)
		return nil
	}
	if !self.sameObject(d.self) {
		c.markStale(d, now)
		return nil
	}
	delete(c.stale, d)
	delete(c.outdated, d)
	return c.apply(d, entries, now)
}

// apply turns the difference between d's last listing and listed into
// events, and keeps the watches in step: what left is dropped (a directory
// after a while, in case it shows up elsewhere), what arrived is watched.
func (c *snapCore) apply(d *snapDir, listed map[string]snapEntry, now time.Time) error {
	report := d.monitored && !c.quiet && d.inTree()
	rel := d.rel()
	changes := snapReborn(d, listed, snapDiff(d.entries, listed))
	// A name the kernel named that neither listing shows lived only
	// between them, unreported; but the consumer, reading the path when it
	// handles an earlier event about that name, may have copied it: say
	// it is gone.
	if report {
		for _, name := range slices.Sorted(maps.Keys(d.named)) {
			_, was := d.entries[name]
			if _, is := listed[name]; !was && !is {
				c.emit(event.Event{Path: snapJoin(rel, name), Op: event.Remove, IsDir: d.named[name]})
			}
		}
	}
	d.named = nil
	d.entries = listed
	for _, ch := range changes {
		if ch.kind != snapRemoved && ch.kind != snapReplaced {
			continue
		}
		if report {
			c.emit(event.Event{Path: snapJoin(rel, ch.name), Op: event.Remove, IsDir: ch.old.isDir})
		}
		if s := d.subdirs[ch.name]; s != nil {
			delete(d.subdirs, ch.name)
			s.state, s.deadline = snapLeft, now.Add(c.cfg.window)
			c.left = append(c.left, s)
		} else if ch.old.regular() && c.watchesFiles(d) {
			c.files.unwatchFile(d, ch.name)
		}
	}
	for _, ch := range changes {
		switch ch.kind {
		case snapAdded, snapReplaced:
			if err := c.arrive(d, ch.name, ch.new, report, now); err != nil {
				return err
			}
		case snapChanged:
			if report {
				c.emit(event.Event{Path: snapJoin(rel, ch.name), Op: ch.op, IsDir: ch.new.isDir})
			}
		}
	}
	return nil
}

// snapReborn makes a replacement of each deleted subdirectory of d that the
// listing shows with the same identity: a new directory that got its inode
// number, which must be walked and watched afresh.
func snapReborn(d *snapDir, listed map[string]snapEntry, changes []snapChange) []snapChange {
	for name, s := range d.subdirs {
		o, n := d.entries[name], listed[name]
		if !s.deleted || !n.sameObject(o) {
			continue // not deleted, gone (Removed), or another object (Replaced)
		}
		ch := snapChange{name: name, kind: snapReplaced, old: o, new: n}
		i, found := slices.BinarySearchFunc(changes, name, func(c snapChange, name string) int { return strings.Compare(c.name, name) })
		if found {
			changes[i] = ch // was Changed: its mode
		} else {
			changes = slices.Insert(changes, i, ch)
		}
	}
	return changes
}

// arrive handles the object e that appeared as name in d.
func (c *snapCore) arrive(d *snapDir, name string, e snapEntry, report bool, now time.Time) error {
	rel := snapJoin(d.rel(), name)
	if !e.isDir {
		if e.regular() && c.watchesFiles(d) {
			if err := c.watchFile(d, name); err != nil {
				return err
			}
		}
		if report {
			c.emit(event.Event{Path: rel, Op: event.Create})
		}
		return nil
	}
	done := event.Event{Path: rel, Op: event.Create | event.Rescan, IsDir: true}
	if !c.walkable(d, name, e) {
		done.Op = event.Create
	} else if s := c.movedHere(d, e); s != nil {
		if err := c.moveIn(s, d, name, now); err != nil {
			return err
		}
	} else if _, err := c.track(d, name, e, now); err != nil {
		return err
	}
	if report {
		c.emit(done)
	}
	return nil
}

// movedHere returns the tracked directory that e, new in d, is: one that
// left its parent's listing a moment ago, or one whose parent was not
// re-listed yet (the rename's halves handled in the other order).
func (c *snapCore) movedHere(d *snapDir, e snapEntry) *snapDir {
	s := c.byID[e.id()]
	if s == nil || s.deleted || s.isAncestorOf(d) {
		return nil
	}
	switch s.state {
	case snapLeft:
		return s
	case snapAttached:
		if s.parent == nil {
			return nil
		}
		// Still listed at its old name: make sure it is not there any
		// more (a bind mount shows one directory twice).
		if at, err := c.lister.stat(s.parent, s.name); err == nil && at.sameObject(s.self) {
			return nil
		}
		return s
	}
	return nil
}

// moveIn re-attaches the tracked directory s as name in d, with its
// subtree and watches: a rename costs no listing.
func (c *snapCore) moveIn(s, d *snapDir, name string, now time.Time) error {
	if s.state == snapAttached {
		old := s.parent
		if old.monitored && !c.quiet && old.inTree() {
			c.emit(event.Event{Path: s.rel(), Op: event.Remove, IsDir: true})
		}
		delete(old.subdirs, s.name)
		delete(old.entries, s.name)
	}
	s.parent, s.name, s.state = d, name, snapAttached
	d.subdirs[name] = s
	for x := range c.outdated {
		if s.isAncestorOf(x) {
			delete(c.outdated, x)
			c.changed[x] = struct{}{}
		}
	}
	if c.hasRules() {
		// The rules decide by path: apply them at the new place.
		return c.applyRules(s, nil, now)
	}
	return nil
}

// setMonitored switches the reporting of d's changes, and with kqueue the
// watches of its files, which serve only to report.
func (c *snapCore) setMonitored(d *snapDir, on bool) error {
	if d.monitored == on {
		return nil
	}
	d.monitored = on
	if c.files == nil {
		return nil
	}
	for _, name := range snapNames(d.entries) {
		if !d.entries[name].regular() {
			continue
		}
		if !on {
			c.files.unwatchFile(d, name)
		} else if err := c.watchFile(d, name); err != nil {
			return err
		}
	}
	return nil
}

// applyRules applies Walk and Monitor as they are now to d's subtree:
// directories no longer walked are dropped, newly walked ones tracked. With
// rescans set, it collects the directories whose changes were not reported
// and now are (newly walked or monitored, in a monitored directory).
func (c *snapCore) applyRules(d *snapDir, rescans *[]*snapDir, now time.Time) error {
	rel := d.rel()
	if d.parent != nil {
		on := c.monitors(rel)
		if on && !d.monitored && rescans != nil {
			*rescans = append(*rescans, d)
		}
		if err := c.setMonitored(d, on); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(d.subdirs)) {
		s := d.subdirs[name]
		if !c.walks(snapJoin(rel, name)) {
			delete(d.subdirs, name)
			c.untrack(s)
			continue
		}
		if err := c.applyRules(s, rescans, now); err != nil {
			return err
		}
	}
	for _, name := range snapNames(d.entries) {
		e := d.entries[name]
		if !e.isDir || d.subdirs[name] != nil || !c.walkable(d, name, e) {
			continue
		}
		s, err := c.track(d, name, e, now)
		if err != nil {
			return err
		}
		if s != nil && rescans != nil && d.monitored {
			*rescans = append(*rescans, s)
		}
	}
	return nil
}

// reconcile applies changed rules to the whole tree and reports a Rescan of
// each directory that became walked or monitored, but not of one below
// another.
func (c *snapCore) reconcile(now time.Time) error {
	var rescans []*snapDir
	if err := c.applyRules(c.root, &rescans, now); err != nil {
		return err
	}
	found := make(map[*snapDir]bool, len(rescans))
	for _, s := range rescans {
		found[s] = true
	}
	for _, s := range rescans {
		covered := s.state != snapAttached
		for a := s.parent; a != nil && !covered; a = a.parent {
			covered = found[a]
		}
		if !covered {
			c.emit(event.Event{Path: s.rel(), Op: event.Rescan, IsDir: true})
		}
	}
	return nil
}

// emit appends ev, merged into the previous event when both are about the
// same object: the consumer ORs them anyway.
func (c *snapCore) emit(ev event.Event) {
	if n := len(c.out); n > 0 {
		if last := &c.out[n-1]; last.Path == ev.Path && last.IsDir == ev.IsDir {
			last.Op |= ev.Op
			return
		}
	}
	c.out = append(c.out, ev)
}

// take returns what was emitted since the last call.
func (c *snapCore) take() []event.Event {
	out := c.out
	c.out = nil
	return out
}
