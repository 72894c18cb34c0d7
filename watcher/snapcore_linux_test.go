package watcher

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clsync-go/clsync/event"
	"golang.org/x/sys/unix"
)

// snapSeed replays the snapshot storm: go test ./watcher -run SnapStorm
// -args -snap-seed=N (a failing run logs its seed).
var snapSeed = flag.Uint64("snap-seed", 0, "seed of the snapshot storm (0: a new one each run)")

// snapLinuxOps are Linux's inotify calls for snapInotify: the FreeBSD
// backend's logic, run here on a real kernel.
func snapLinuxOps() snapInotifyOps {
	return snapInotifyOps{
		init: func() (int, error) { return unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC) },
		addWatch: func(ifd, dfd int, mask uint32) (int32, error) {
			wd, err := unix.InotifyAddWatch(ifd, fmt.Sprintf("/proc/self/fd/%d", dfd), mask)
			return int32(wd), err
		},
		rmWatch: func(ifd int, wd int32) error {
			_, err := unix.InotifyRmWatch(ifd, uint32(wd))
			return err
		},
	}
}

// newSnapLinux starts the snapshot backend on Linux's inotify.
func newSnapLinux(t *testing.T, ctx context.Context, opts Options) (*snapWatcher, *snapCore) {
	t.Helper()
	opts, err := opts.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	pin, err := PinRoot(opts.Root)
	if err != nil {
		t.Fatal(err)
	}
	src, err := newSnapInotify(opts.Root, snapLinuxOps())
	if err != nil {
		t.Fatal(err)
	}
	core := newSnapCore(snapConfigOf(opts, pin), src, src)
	src.core = core
	w, err := newSnapWatcher(ctx, opts, Inotify, pin, core, src)
	if err != nil {
		t.Fatal(err)
	}
	return w, core
}

// snapModelEntry is what the tests compare of a path: its type, and a
// file's content and permissions.
type snapModelEntry struct {
	isDir   bool
	content string
	perm    fs.FileMode
}

// snapReadTree reads the tree below root/rel into m, rel included.
func snapReadTree(t *testing.T, root, rel string, m map[string]snapModelEntry) {
	err := filepath.WalkDir(filepath.Join(root, rel), func(path string, de fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
				return nil // changed while read (gone, or now a file): a later event covers it
			}
			return err
		}
		r, _ := filepath.Rel(root, path)
		if r == "." {
			r = ""
		}
		info, err := de.Info()
		if err != nil {
			return nil
		}
		e := snapModelEntry{isDir: de.IsDir(), perm: info.Mode().Perm()}
		if info.Mode().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return nil
			}
			e.content = string(b)
		}
		if r != "" {
			m[r] = e
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// snapMirror applies ev to a model of the tree the way a consumer does:
// it looks at what is at the path now and copies it (its subtree too for a
// Rescan), or deletes the path and what was below it.
func snapMirror(t *testing.T, root string, m map[string]snapModelEntry, ev event.Event) {
	dropBelow := func(rel string) {
		for p := range m {
			if rel == "" || strings.HasPrefix(p, rel+"/") {
				delete(m, p)
			}
		}
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(root, ev.Path), &st); err != nil {
		delete(m, ev.Path)
		dropBelow(ev.Path)
		return
	}
	if ev.Op&event.Rescan != 0 || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		dropBelow(ev.Path)
	}
	if ev.Op&event.Rescan != 0 {
		if ev.Path != "" {
			delete(m, ev.Path)
		}
		snapReadTree(t, root, ev.Path, m)
		return
	}
	if ev.Path == "" {
		return
	}
	one := map[string]snapModelEntry{}
	e := snapModelEntry{isDir: st.Mode&unix.S_IFMT == unix.S_IFDIR, perm: fs.FileMode(st.Mode & 0o777)}
	if st.Mode&unix.S_IFMT == unix.S_IFREG {
		b, err := os.ReadFile(filepath.Join(root, ev.Path))
		if err != nil {
			delete(m, ev.Path)
			return
		}
		e.content = string(b)
	}
	one[ev.Path] = e
	maps.Copy(m, one)
}

// snapStorm makes n random changes below root: directories made, files
// written, renames within and across directories, trees removed, trees moved
// in from outside and out to it, modes changed.
func snapStorm(rng *rand.Rand, root, outside string, n int) {
	var dirs, files []string
	rescan := func() {
		dirs, files = []string{""}, nil
		filepath.WalkDir(root, func(path string, de fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			r, _ := filepath.Rel(root, path)
			switch {
			case r == ".":
			case de.IsDir():
				dirs = append(dirs, r)
			default:
				files = append(files, r)
			}
			return nil
		})
	}
	abs := func(rel string) string { return filepath.Join(root, rel) }
	pick := func(l []string) string { return l[rng.IntN(len(l))] }
	name := func() string { return fmt.Sprintf("n%d", rng.IntN(40)) }
	object := func() string {
		if len(files) > 0 && rng.IntN(2) == 0 {
			return pick(files)
		}
		return pick(dirs)
	}
	for i := range n {
		if i%20 == 0 {
			rescan()
		}
		switch op := rng.IntN(100); {
		case op < 20:
			os.Mkdir(abs(filepath.Join(pick(dirs), name())), 0o755)
		case op < 45:
			p := abs(filepath.Join(pick(dirs), name()))
			if len(files) > 0 && op < 35 {
				p = abs(pick(files))
			}
			os.WriteFile(p, []byte(strings.Repeat("x", rng.IntN(5))+fmt.Sprint(i)), 0o644)
		case op < 60: // rename within a directory
			from := object()
			if from != "" {
				os.Rename(abs(from), abs(filepath.Join(filepath.Dir(from), name())))
			}
		case op < 75: // rename across directories
			from := object()
			if from != "" {
				os.Rename(abs(from), abs(filepath.Join(pick(dirs), name())))
			}
		case op < 82:
			if p := object(); p != "" {
				os.RemoveAll(abs(p))
			}
		case op < 89: // a tree moved in from outside
			tmp := filepath.Join(outside, fmt.Sprint("in", i))
			os.MkdirAll(filepath.Join(tmp, "sub"), 0o755)
			os.WriteFile(filepath.Join(tmp, "sub", "f"), []byte("in"), 0o644)
			os.Rename(tmp, abs(filepath.Join(pick(dirs), name())))
			os.RemoveAll(tmp)
		case op < 95: // moved out
			if p := object(); p != "" {
				os.Rename(abs(p), filepath.Join(outside, fmt.Sprint("out", i)))
			}
		default:
			if p := object(); p != "" {
				os.Chmod(abs(p), os.FileMode(0o700|rng.IntN(0o100)))
			}
		}
	}
}

// TestSnapStorm drives the snapshot backend (FreeBSD's logic) from Linux's
// inotify through a random storm, then checks that a mirror kept from the
// events alone, and the core's snapshot, equal the tree.
func TestSnapStorm(t *testing.T) {
	seed := *snapSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	for round := range 3 {
		t.Run(fmt.Sprint("seed=", seed+uint64(round)), func(t *testing.T) {
			snapStormRound(t, seed+uint64(round))
		})
		if *snapSeed != 0 {
			break
		}
	}
}

func snapStormRound(t *testing.T, seed uint64) {
	t.Logf("replay with -snap-seed=%d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	root, outside := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "pre/a/b"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "pre/a/f"), []byte("pre"), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w, core := newSnapLinux(t, ctx, Options{Root: root})
	model := map[string]snapModelEntry{}
	snapReadTree(t, root, "", model) // the initial sync
	const sentinel = "sentinel.last"
	sawSentinel := make(chan struct{})
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		seen := false
		for batch := range w.events() {
			for _, ev := range batch {
				snapMirror(t, root, model, ev)
				if ev.Path == sentinel && ev.Op&event.Create != 0 && !seen {
					seen = true
					close(sawSentinel)
				}
			}
		}
	}()
	snapStorm(rng, root, outside, 3000)
	if err := os.WriteFile(filepath.Join(root, sentinel), []byte("end"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sawSentinel:
	case <-ctx.Done():
		t.Fatalf("the sentinel's Create never came (seed %d)", seed)
	}
	// The sentinel's event came after every one queued before it; a listing
	// deferred for a stale path may still be due: Quiesce waits for it.
	if err := w.quiesce(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	<-consumed
	if err := w.err(); err != nil {
		t.Fatalf("watcher stopped: %v", err)
	}
	real := map[string]snapModelEntry{}
	snapReadTree(t, root, "", real)
	snapCompare(t, "mirror from events", model, real)
	snapCompare(t, "core snapshot", snapCoreTree(core), snapTypes(real))
	t.Logf("%d paths, %d directories tracked, %d overflows", len(real), core.dirs, core.overflows)
	// Every directory the core counts is in the tree or in a subtree that
	// left and waits to be dropped: none leaks.
	count := 0
	var walk func(d *snapDir)
	walk = func(d *snapDir) {
		count++
		for _, s := range d.subdirs {
			walk(s)
		}
	}
	walk(core.root)
	for _, d := range core.left {
		if d.state == snapLeft {
			walk(d)
		}
	}
	if count != core.dirs {
		t.Errorf("core counts %d directories, %d are in the tree or left", core.dirs, count)
	}
	if t.Failed() {
		t.Logf("failed with -snap-seed=%d", seed)
	}
}

// snapCoreTree is the core's snapshot as a model (types only).
func snapCoreTree(c *snapCore) map[string]snapModelEntry {
	m := map[string]snapModelEntry{}
	var walk func(d *snapDir)
	walk = func(d *snapDir) {
		rel := d.rel()
		for name, e := range d.entries {
			m[snapJoin(rel, name)] = snapModelEntry{isDir: e.isDir}
		}
		for _, s := range d.subdirs {
			walk(s)
		}
	}
	walk(c.root)
	return m
}

func snapTypes(m map[string]snapModelEntry) map[string]snapModelEntry {
	out := map[string]snapModelEntry{}
	for p, e := range m {
		out[p] = snapModelEntry{isDir: e.isDir}
	}
	return out
}

func snapCompare(t *testing.T, what string, got, want map[string]snapModelEntry) {
	t.Helper()
	n := 0
	for p, w := range want {
		if g, ok := got[p]; !ok || g != w {
			if n++; n <= 20 {
				t.Errorf("%s: %q is %+v (present %v), want %+v", what, p, g, ok, w)
			}
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			if n++; n <= 20 {
				t.Errorf("%s: %q is there, but not in the tree", what, p)
			}
		}
	}
}
