package watcher

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clsync-go/clsync/event"
	"golang.org/x/sys/unix"
)

// snapFake is a file system in memory for the snapshot core: directories by
// path, each a listing. It is the core's kernel and lister, and counts the
// listings, so that a test can tell a moved subtree from a walked one.
type snapFake struct {
	dirs    map[string]map[string]snapEntry // "" is the root
	root    snapEntry
	ino     uint64
	lists   map[string]int
	watched map[*snapDir]bool
	// dropped are watches of deleted directories, which the kernel
	// dropped (inotify's do not keep the inode).
	dropped map[*snapDir]bool
	files   map[kqueueFileKey]bool // nil: no per-file watches
}

type kqueueFileKey struct {
	dir  *snapDir
	name string
}

func newSnapFake(pin Root) *snapFake {
	return &snapFake{dirs: map[string]map[string]snapEntry{"": {}}, ino: 1000,
		root:  snapEntry{dev: pin.Dev, ino: pin.Ino, isDir: true, mode: unix.S_IFDIR | 0o755},
		lists: map[string]int{}, watched: map[*snapDir]bool{}, dropped: map[*snapDir]bool{}}
}

func snapSplit(rel string) (dir, name string) {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[:i], rel[i+1:]
	}
	return "", rel
}

func (f *snapFake) lookup(rel string) (snapEntry, bool) {
	if rel == "" {
		return f.root, true
	}
	dir, name := snapSplit(rel)
	e, ok := f.dirs[dir][name]
	return e, ok
}

func (f *snapFake) mkdir(rel string) {
	f.ino++
	dir, name := snapSplit(rel)
	f.dirs[dir][name] = snapEntry{dev: f.root.dev, ino: f.ino, isDir: true, mode: unix.S_IFDIR | 0o755}
	f.dirs[rel] = map[string]snapEntry{}
}

// mkdirIno makes the directory rel with inode ino, one freed by rm (a file
// system reuses them).
func (f *snapFake) mkdirIno(rel string, ino uint64) {
	dir, name := snapSplit(rel)
	f.dirs[dir][name] = snapEntry{dev: f.root.dev, ino: ino, isDir: true, mode: unix.S_IFDIR | 0o755}
	f.dirs[rel] = map[string]snapEntry{}
}

func (f *snapFake) write(rel string, size int64) {
	dir, name := snapSplit(rel)
	e, ok := f.dirs[dir][name]
	if !ok {
		f.ino++
		e = snapEntry{dev: f.root.dev, ino: f.ino, mode: unix.S_IFREG | 0o644}
	}
	e.size = size
	e.mtime++
	f.dirs[dir][name] = e
}

func (f *snapFake) chmod(rel string, perm uint32) {
	dir, name := snapSplit(rel)
	e := f.dirs[dir][name]
	e.mode = e.mode&snapIFMT | perm
	f.dirs[dir][name] = e
}

func (f *snapFake) rm(rel string) {
	deleted := map[snapID]bool{}
	for p := range f.dirs {
		if p == rel || strings.HasPrefix(p, rel+"/") {
			e, _ := f.lookup(p)
			deleted[e.id()] = true
		}
	}
	for d := range f.watched {
		if deleted[d.self.id()] {
			f.dropped[d] = true
		}
	}
	dir, name := snapSplit(rel)
	delete(f.dirs[dir], name)
	for p := range f.dirs {
		if p == rel || strings.HasPrefix(p, rel+"/") {
			delete(f.dirs, p)
		}
	}
}

// mv renames from to to, replacing what was there.
func (f *snapFake) mv(from, to string) {
	fd, fn := snapSplit(from)
	td, tn := snapSplit(to)
	e := f.dirs[fd][fn]
	f.rm(to)
	delete(f.dirs[fd], fn)
	f.dirs[td][tn] = e
	moved := map[string]map[string]snapEntry{}
	for p, l := range f.dirs {
		if p == from || strings.HasPrefix(p, from+"/") {
			moved[to+strings.TrimPrefix(p, from)] = l
			delete(f.dirs, p)
		}
	}
	maps.Copy(f.dirs, moved)
}

// exchange swaps two names (renameat2 RENAME_EXCHANGE).
func (f *snapFake) exchange(a, b string) {
	f.mv(a, "tmp.x")
	f.mv(b, a)
	f.mv("tmp.x", b)
}

func (f *snapFake) watchDir(d *snapDir) (snapEntry, error) {
	e, ok := f.lookup(d.rel())
	if !ok || !e.isDir {
		return snapEntry{}, unix.ENOENT
	}
	f.watched[d] = true
	return e, nil
}

func (f *snapFake) unwatchDir(d *snapDir) {
	if !f.watched[d] {
		panic("unwatchDir of a directory not watched: " + d.rel())
	}
	delete(f.watched, d)
	delete(f.dropped, d)
}

// rewatch watches d's path again if it has d's identity, as inotify does:
// a dropped watch is replaced.
func (f *snapFake) rewatch(d *snapDir) error {
	if e, ok := f.lookup(d.rel()); ok && e.sameObject(d.self) {
		delete(f.dropped, d)
	}
	return nil
}

func (f *snapFake) list(d *snapDir) (snapEntry, map[string]snapEntry, error) {
	rel := d.rel()
	self, ok := f.lookup(rel)
	if !ok || !self.isDir {
		return snapEntry{}, nil, unix.ENOENT
	}
	f.lists[rel]++
	return self, maps.Clone(f.dirs[rel]), nil
}

func (f *snapFake) stat(d *snapDir, name string) (snapEntry, error) {
	e, ok := f.lookup(snapJoin(d.rel(), name))
	if !ok {
		return e, unix.ENOENT
	}
	return e, nil
}

// snapFakeFiles is a snapFake that watches files too, as kqueue does.
type snapFakeFiles struct{ *snapFake }

func (f snapFakeFiles) watchFile(d *snapDir, name string) (snapEntry, error) {
	f.files[kqueueFileKey{d, name}] = true
	return f.stat(d, name)
}

func (f snapFakeFiles) unwatchFile(d *snapDir, name string) {
	if !f.files[kqueueFileKey{d, name}] {
		panic("unwatchFile of a file not watched: " + snapJoin(d.rel(), name))
	}
	delete(f.files, kqueueFileKey{d, name})
}

// snapHarness drives a core over a snapFake at a time it sets.
type snapHarness struct {
	t    *testing.T
	fake *snapFake
	core *snapCore
	now  time.Time
}

const snapTestWindow = 50 * time.Millisecond

func newSnapHarness(t *testing.T, cfg snapConfig, perFile bool, setup func(f *snapFake)) *snapHarness {
	t.Helper()
	pin, err := PinRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg.pin, cfg.window = pin, snapTestWindow
	f := newSnapFake(pin)
	if setup != nil {
		setup(f)
	}
	var kernel snapKernel = f
	if perFile {
		f.files = map[kqueueFileKey]bool{}
		kernel = snapFakeFiles{f}
	}
	h := &snapHarness{t: t, fake: f, core: newSnapCore(cfg, kernel, f), now: time.Unix(1e9, 0)}
	if err := h.core.start(h.now); err != nil {
		t.Fatal(err)
	}
	clear(f.lists)
	return h
}

// dir is the tracked directory rel.
func (h *snapHarness) dir(rel string) *snapDir {
	d := h.core.root
	if rel == "" {
		return d
	}
	for part := range strings.SplitSeq(rel, "/") {
		if d = d.subdirs[part]; d == nil {
			h.t.Fatalf("%q is not tracked", rel)
		}
	}
	return d
}

// batch notifies that the directories dirs changed, lets dt pass, and
// processes them with the queue seen empty at that time.
func (h *snapHarness) batch(dt time.Duration, dirs ...string) []event.Event {
	h.t.Helper()
	for _, rel := range dirs {
		h.core.dirChanged(h.dir(rel))
	}
	h.now = h.now.Add(dt)
	if err := h.core.process(h.now, h.now); err != nil {
		h.t.Fatal(err)
	}
	return h.core.take()
}

// checkSnapshot asserts that the core's snapshot and watches are the fake's
// tree (with walk and oneFS excluding nothing).
func (h *snapHarness) checkSnapshot() {
	h.t.Helper()
	tracked := 0
	var walk func(d *snapDir)
	walk = func(d *snapDir) {
		tracked++
		rel := d.rel()
		want := h.fake.dirs[rel]
		if !maps.Equal(d.entries, want) {
			h.t.Errorf("snapshot of %q: %v, want %v", rel, d.entries, want)
		}
		if !h.fake.watched[d] {
			h.t.Errorf("%q is tracked but not watched", rel)
		}
		if h.fake.dropped[d] {
			h.t.Errorf("%q is tracked by a watch the kernel dropped", rel)
		}
		for name, e := range want {
			if e.isDir && d.subdirs[name] == nil {
				h.t.Errorf("%q is not tracked", snapJoin(rel, name))
			}
		}
		for _, s := range d.subdirs {
			walk(s)
		}
	}
	walk(h.core.root)
	if tracked != len(h.fake.watched) || tracked != h.core.dirs {
		h.t.Errorf("%d directories tracked, %d watched, core counts %d", tracked, len(h.fake.watched), h.core.dirs)
	}
}

func ev(path string, op event.Op, isDir bool) event.Event {
	return event.Event{Path: path, Op: op, IsDir: isDir}
}

func TestSnapDiffTable(t *testing.T) {
	const (
		cr = event.Create
		rm = event.Remove
		rs = event.Rescan
	)
	tree := func(f *snapFake) {
		f.mkdir("a")
		f.mkdir("a/d")
		f.mkdir("a/d/sub")
		f.write("a/d/sub/f", 1)
		f.mkdir("b")
		f.write("file", 3)
	}
	type batch struct {
		dt   time.Duration
		dirs []string
		want []event.Event
	}
	for _, c := range []struct {
		name    string
		change  func(f *snapFake)
		batches []batch
		// listed are the directories the batches may list (nil: any).
		listed []string
	}{
		{"create file", func(f *snapFake) { f.write("b/new", 1) },
			[]batch{{0, []string{"b"}, []event.Event{ev("b/new", cr, false)}}}, []string{"b"}},
		{"create dir with content", func(f *snapFake) { f.mkdir("b/n"); f.mkdir("b/n/m"); f.write("b/n/m/x", 1) },
			[]batch{{0, []string{"b"}, []event.Event{ev("b/n", cr|rs, true)}}}, nil},
		{"delete file", func(f *snapFake) { f.rm("file") },
			[]batch{{0, []string{""}, []event.Event{ev("file", rm, false)}}}, []string{""}},
		{"delete tree", func(f *snapFake) { f.rm("a/d") },
			[]batch{{0, []string{"a"}, []event.Event{ev("a/d", rm, true)}}, {snapTestWindow + 1, nil, nil}}, []string{"a"}},
		{"rename within dir", func(f *snapFake) { f.mv("a/d", "a/e") },
			[]batch{{0, []string{"a"}, []event.Event{ev("a/d", rm, true), ev("a/e", cr|rs, true)}}}, []string{"a"}},
		{"rename file within dir", func(f *snapFake) { f.mv("file", "file2") },
			[]batch{{0, []string{""}, []event.Event{ev("file", rm, false), ev("file2", cr, false)}}}, []string{""}},
		{"rename across dirs in one batch", func(f *snapFake) { f.mv("a/d", "b/d") },
			[]batch{{0, []string{"b", "a"}, []event.Event{ev("a/d", rm, true), ev("b/d", cr|rs, true)}}}, []string{"a", "b"}},
		{"rename across dirs within the window", func(f *snapFake) { f.mv("a/d", "b/d") },
			[]batch{
				{0, []string{"a"}, []event.Event{ev("a/d", rm, true)}},
				{snapTestWindow / 2, []string{"b"}, []event.Event{ev("b/d", cr|rs, true)}},
			}, []string{"a", "b"}},
		{"rename across dirs, destination first", func(f *snapFake) { f.mv("a/d", "b/d") },
			[]batch{
				{0, []string{"b"}, []event.Event{ev("a/d", rm, true), ev("b/d", cr|rs, true)}},
				{0, []string{"a"}, nil},
			}, []string{"a", "b"}},
		{"rename across dirs after the window", func(f *snapFake) { f.mv("a/d", "b/d") },
			[]batch{
				{0, []string{"a"}, []event.Event{ev("a/d", rm, true)}},
				{snapTestWindow + 1, nil, nil},
				{0, []string{"b"}, []event.Event{ev("b/d", cr|rs, true)}},
			}, []string{"a", "b", "b/d", "b/d/sub"}},
		{"replace by another inode", func(f *snapFake) { f.rm("file"); f.write("file", 3) },
			[]batch{{0, []string{""}, []event.Event{ev("file", rm|cr, false)}}}, []string{""}},
		{"exchange", func(f *snapFake) { f.exchange("a", "b") },
			[]batch{{0, []string{""}, []event.Event{ev("a", rm, true), ev("b", rm, true), ev("a", cr|rs, true), ev("b", cr|rs, true)}}},
			[]string{""}},
		{"file to dir at same name", func(f *snapFake) { f.rm("file"); f.mkdir("file") },
			[]batch{{0, []string{""}, []event.Event{ev("file", rm, false), ev("file", cr|rs, true)}}}, nil},
		{"dir to file at same name", func(f *snapFake) { f.rm("b"); f.write("b", 1) },
			[]batch{{0, []string{""}, []event.Event{ev("b", rm, true), ev("b", cr, false)}}}, []string{""}},
		{"modify", func(f *snapFake) { f.write("a/d/sub/f", 9) },
			[]batch{{0, []string{"a/d/sub"}, []event.Event{ev("a/d/sub/f", event.Modify, false)}}}, []string{"a/d/sub"}},
		{"attrib", func(f *snapFake) { f.chmod("a/d", 0o700) },
			[]batch{{0, []string{"a"}, []event.Event{ev("a/d", event.Attrib, true)}}}, []string{"a"}},
	} {
		for _, perFile := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/perFile=%v", c.name, perFile), func(t *testing.T) {
				h := newSnapHarness(t, snapConfig{}, perFile, tree)
				c.change(h.fake)
				for i, b := range c.batches {
					if got := h.batch(b.dt, b.dirs...); !slices.Equal(got, b.want) {
						t.Errorf("batch %d: %v, want %v", i, got, b.want)
					}
				}
				h.batch(snapTestWindow + 1) // expire what left
				h.checkSnapshot()
				if c.listed != nil {
					for rel := range h.fake.lists {
						if !slices.Contains(c.listed, rel) {
							t.Errorf("listed %q (listings: %v)", rel, h.fake.lists)
						}
					}
				}
				if perFile {
					h.checkFiles()
				}
			})
		}
	}
}

// checkFiles asserts that exactly the regular files of the tree are watched.
func (h *snapHarness) checkFiles() {
	h.t.Helper()
	want := map[kqueueFileKey]bool{}
	var walk func(d *snapDir)
	walk = func(d *snapDir) {
		for name, e := range d.entries {
			if e.regular() && d.monitored {
				want[kqueueFileKey{d, name}] = true
			}
		}
		for _, s := range d.subdirs {
			walk(s)
		}
	}
	walk(h.core.root)
	if !maps.Equal(want, h.fake.files) {
		h.t.Errorf("files watched: %v, want %v", h.fake.files, want)
	}
}

// A write that keeps size and mtime shows only through the file's own
// notification.
func TestSnapFileChanged(t *testing.T) {
	h := newSnapHarness(t, snapConfig{}, true, func(f *snapFake) { f.mkdir("a"); f.write("a/f", 1) })
	h.core.fileChanged(h.dir("a"), "f", event.Modify)
	if got, want := h.core.take(), []event.Event{ev("a/f", event.Modify, false)}; !slices.Equal(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
	h.fake.rm("a/f")
	h.core.fileChanged(h.dir("a"), "f", event.Modify)
	if got, want := h.batch(0), []event.Event{ev("a/f", event.Remove, false)}; !slices.Equal(got, want) {
		t.Errorf("after rm: %v, want %v", got, want)
	}
	h.checkFiles()
}

// An entry that lives only between two listings, as a kernel naming it
// (inotify) says, is reported removed: a consumer handling the Remove of an
// earlier entry of that name late may have copied it. Seen in TestSnapStorm:
// "n8" removed, a new "n8" written, the Remove handled, "n8" renamed away,
// the next listing of the root unchanged.
func TestSnapTransientEntry(t *testing.T) {
	h := newSnapHarness(t, snapConfig{}, false, func(f *snapFake) { f.write("n8", 1); f.mkdir("d") })
	h.fake.rm("n8")
	h.core.entryChanged(h.dir(""), "n8", false)
	if got, want := h.batch(0), []event.Event{ev("n8", event.Remove, false)}; !slices.Equal(got, want) {
		t.Errorf("rm: %v, want %v", got, want)
	}
	h.fake.write("n8", 2) // the consumer handles the Remove now: copies it
	h.core.entryChanged(h.dir(""), "n8", false)
	h.fake.mv("n8", "d/n3")
	h.core.entryChanged(h.dir(""), "n8", false)
	h.core.entryChanged(h.dir("d"), "n3", false)
	want := []event.Event{ev("n8", event.Remove, false), ev("d/n3", event.Create, false)}
	if got := h.batch(0); !slices.Equal(got, want) {
		t.Errorf("transient n8: %v, want %v", got, want)
	}
	// Named, but in the listings as before: nothing to say.
	h.core.entryChanged(h.dir("d"), "n3", false)
	if got := h.batch(0); len(got) != 0 {
		t.Errorf("unchanged: %v, want none", got)
	}
	h.checkSnapshot()
}

// Walk excludes a directory (reported as a plain Create, not tracked);
// Monitor silences one (tracked, no events, no file watches); Reconcile
// applies changed rules with a Rescan of what became visible.
func TestSnapRules(t *testing.T) {
	walkX, monitorM := true, false
	cfg := snapConfig{
		walk:    func(rel string) bool { return walkX || !strings.HasPrefix(rel, "x") },
		monitor: func(rel string) bool { return monitorM || !strings.HasPrefix(rel, "m") },
	}
	walkX = false
	h := newSnapHarness(t, cfg, true, func(f *snapFake) { f.mkdir("m"); f.write("m/f", 1) })
	h.fake.mkdir("x")
	h.fake.write("m/g", 1)
	if got, want := h.batch(0, "", "m"), []event.Event{ev("x", event.Create, true)}; !slices.Equal(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
	if h.dir("").subdirs["x"] != nil {
		t.Error("x is tracked though Walk excludes it")
	}
	h.checkFiles()
	walkX, monitorM = true, true
	if err := h.core.reconcile(h.now); err != nil {
		t.Fatal(err)
	}
	if got, want := h.core.take(), []event.Event{ev("m", event.Rescan, true), ev("x", event.Rescan, true)}; !slices.Equal(got, want) {
		t.Errorf("reconcile: %v, want %v", got, want)
	}
	h.checkSnapshot()
	h.checkFiles()
}

// An overflow re-lists everything and reports one root Rescan.
func TestSnapOverflow(t *testing.T) {
	h := newSnapHarness(t, snapConfig{}, true, func(f *snapFake) { f.mkdir("a"); f.mkdir("a/b") })
	h.fake.mv("a/b", "c")
	h.fake.mkdir("c/new")
	h.fake.write("a/f", 1)
	h.core.overflow()
	if got, want := h.batch(0), []event.Event{ev("", event.Rescan, true)}; !slices.Equal(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
	h.checkSnapshot()
	h.checkFiles()
	if h.core.overflows != 1 {
		t.Errorf("overflows %d", h.core.overflows)
	}
}

// A deleted directory's inode number, given at once to a new directory at
// the same name: the kernel said it was deleted, so the new one is walked and
// watched afresh, not taken for the old one (whose watch is gone).
func TestSnapInodeReused(t *testing.T) {
	h := newSnapHarness(t, snapConfig{}, false, func(f *snapFake) { f.mkdir("d"); f.mkdir("d/e") })
	d, e := h.dir("d"), h.dir("d/e")
	h.fake.rm("d")
	h.fake.mkdirIno("d", d.self.ino)
	h.fake.mkdirIno("d/e", e.self.ino)
	h.fake.write("d/e/f", 1)
	// What the shim does on their IN_IGNORED.
	h.core.dirDeleted(e)
	h.core.dirDeleted(d)
	if got, want := h.batch(0, ""), []event.Event{ev("d", event.Remove|event.Create|event.Rescan, true)}; !slices.Equal(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
	h.batch(snapTestWindow + 1)
	h.checkSnapshot()
}

// The same after an overflow, which lost the notifications of the deletion:
// the new directories even turn up at other names, which the old ones' inode
// numbers would pair as a rename. The re-listing re-adds each watch.
func TestSnapOverflowInodeReused(t *testing.T) {
	h := newSnapHarness(t, snapConfig{}, false, func(f *snapFake) {
		f.mkdir("old")
		f.mkdir("old/a")
		f.mkdir("old/a/b")
		f.write("old/a/f", 1)
		f.mkdir("keep")
		f.mkdir("keep/x")
	})
	old, a, b := h.dir("old"), h.dir("old/a"), h.dir("old/a/b")
	h.fake.rm("old")
	h.fake.mkdirIno("new", old.self.ino)
	h.fake.mkdirIno("new/a", a.self.ino)
	h.fake.mkdirIno("new/a/b", b.self.ino)
	h.fake.write("new/a/b/f", 2)
	h.fake.mv("keep", "kept")
	h.core.overflow()
	if got, want := h.batch(0), []event.Event{ev("", event.Rescan, true)}; !slices.Equal(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
	h.checkSnapshot()
}

// FuzzSnapDiff lists a directory twice at random and checks what the core
// reports: every name that changed is reported, Remove only of a name that
// was there, Create only of one that is, and the snapshot ends equal to the
// second listing.
func FuzzSnapDiff(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, []byte{9, 8, 7, 6, 5, 4, 3, 2, 1, 0})
	f.Add([]byte{0x11, 0x22, 0x33}, []byte{0x13, 0x22, 0x31})
	f.Add([]byte{0x80, 0x81}, []byte{0x81, 0x80})
	f.Fuzz(func(t *testing.T, oldB, newB []byte) {
		h := newSnapHarness(t, snapConfig{}, len(oldB)%2 == 0, nil)
		old := snapFuzzListing(h.fake, oldB)
		new := snapFuzzListing(h.fake, newB)
		h.fake.dirs[""] = old
		for name, e := range old {
			if e.isDir {
				h.fake.dirs[name] = map[string]snapEntry{}
			}
		}
		// Restart on the old listing.
		h.fake.watched = map[*snapDir]bool{}
		if h.fake.files != nil {
			h.fake.files = map[kqueueFileKey]bool{}
		}
		h.core = newSnapCore(h.core.cfg, h.core.kernel, h.fake)
		if err := h.core.start(h.now); err != nil {
			t.Fatal(err)
		}
		for name, e := range old {
			if e.isDir {
				delete(h.fake.dirs, name)
			}
		}
		h.fake.dirs[""] = new
		for name, e := range new {
			if e.isDir {
				h.fake.dirs[name] = map[string]snapEntry{}
			}
		}
		events := h.batch(0, "")
		events = append(events, h.batch(snapTestWindow+1)...)
		reported := map[string]event.Op{}
		for _, e := range events {
			reported[e.Path] |= e.Op
			if e.Op&event.Remove != 0 {
				if _, ok := old[e.Path]; !ok {
					t.Errorf("Remove of %q, which was not listed", e.Path)
				}
			}
			if e.Op&(event.Create|event.Rescan) != 0 {
				if _, ok := new[e.Path]; !ok {
					t.Errorf("Create of %q, which is not listed", e.Path)
				}
			}
		}
		for name := range mergeKeys(old, new) {
			o, inOld := old[name]
			n, inNew := new[name]
			unchanged := inOld && inNew && o == n
			if !unchanged && reported[name] == 0 {
				t.Errorf("%q changed (%+v -> %+v) but was not reported", name, o, n)
			}
		}
		h.checkSnapshot()
		if h.fake.files != nil {
			h.checkFiles()
		}
	})
}

func mergeKeys(a, b map[string]snapEntry) map[string]bool {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}

// snapFuzzListing makes a listing of up to 8 names from b, 2 bytes an
// entry: the name, whether it is a directory, its inode (a few, so that
// names share them) and its size and mode. Directory inodes are unique, as
// a directory has one name.
func snapFuzzListing(f *snapFake, b []byte) map[string]snapEntry {
	l := map[string]snapEntry{}
	usedDir := map[uint64]bool{}
	for i := 0; i+1 < len(b) && len(l) < 8; i += 2 {
		name := string(rune('a' + b[i]&7))
		isDir := b[i]&8 != 0
		ino := uint64(b[i]>>4) + 10
		if isDir {
			ino += 100
			if usedDir[ino] {
				continue
			}
			usedDir[ino] = true
		}
		e := snapEntry{dev: f.root.dev, ino: ino, isDir: isDir, size: int64(b[i+1] & 3), mtime: int64(b[i+1] >> 2 & 3)}
		if isDir {
			e.size, e.mtime = 0, 0
			e.mode = unix.S_IFDIR | 0o755
		} else {
			e.mode = unix.S_IFREG | 0o644
		}
		if b[i+1]&0x80 != 0 {
			e.mode &^= 0o022
		}
		l[name] = e
	}
	return l
}
