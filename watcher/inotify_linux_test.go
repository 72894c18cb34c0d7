//go:build linux

package watcher

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/clsync-go/clsync/event"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	if scenario := os.Getenv(helperEnv); scenario != "" {
		os.Exit(runHelper(scenario))
	}
	code := m.Run()
	// Every test closed its watchers; give the last reader a moment to
	// return after signalling that it is done.
	deadline := time.Now().Add(waitTimeout)
	for readerGoroutines() != 0 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if n := readerGoroutines(); n != 0 && code == 0 {
		fmt.Fprintf(os.Stderr, "%d watcher reader goroutines leaked\n", n)
		code = 1
	}
	os.Exit(code)
}

func TestBasicOps(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "old"), "x")
	r := start(t, root, Options{})

	f := filepath.Join(root, "f")
	writeFile(t, f, "hello")
	ev := r.wait("create f", is("f", event.Create, false))
	if ev.Mask&unix.IN_CREATE == 0 {
		t.Errorf("create event mask %#x lacks IN_CREATE", ev.Mask)
	}
	r.waitAll("modify f", []string{"f"}, func(p string, all []event.Event) bool { return has(all, is(p, event.Modify, false)) })
	if err := os.Chmod(f, 0o600); err != nil {
		t.Fatal(err)
	}
	r.wait("attrib f", is("f", event.Attrib, false))
	if err := os.Chmod(root, 0o750); err != nil {
		t.Fatal(err)
	}
	r.wait("attrib root", is("", event.Attrib, true))
	if err := os.Remove(f); err != nil {
		t.Fatal(err)
	}
	r.wait("remove f", is("f", event.Remove, false))
	rename(t, filepath.Join(root, "old"), filepath.Join(root, "new"))
	b := r.waitBatch("rename old->new", func(b []event.Event) bool { return has(b, is("new", event.Create, false)) })
	if !has(b, is("old", event.Remove, false)) {
		t.Errorf("file rename: want Remove old with Create new in one slice, got\n%s", dump(b))
	}
	if got := r.w.watches(); got != 1 {
		t.Errorf("Watches() = %d, want 1", got)
	}
}

// Pitfall 1: files created in a new directory before its watch exists.
func TestMkdirRace(t *testing.T) {
	for _, fallback := range []bool{false, true} {
		t.Run(fmt.Sprintf("noOpenat2=%v", fallback), func(t *testing.T) {
			root := t.TempDir()
			cfg := defaultConfig()
			cfg.noOpenat2 = fallback
			r := startCfg(t, root, Options{}, cfg)

			var files []string
			dirs := 1
			for i := range 20 {
				rel := fmt.Sprintf("t%d/a/b/c", i)
				mkdirAll(t, filepath.Join(root, rel))
				dirs += 4
				for _, d := range []string{fmt.Sprintf("t%d", i), fmt.Sprintf("t%d/a", i), fmt.Sprintf("t%d/a/b", i), rel} {
					p := d + "/file"
					writeFile(t, filepath.Join(root, p), "x")
					files = append(files, p)
				}
			}
			r.waitAll("every file covered by a Create or an ancestor's Rescan", files, coveredBy(event.Create|event.Modify))
			var tops []string
			for i := range 20 {
				tops = append(tops, fmt.Sprintf("t%d", i))
			}
			r.waitAll("Create|Rescan of every new directory", tops, func(p string, all []event.Event) bool {
				return has(all, is(p, event.Create|event.Rescan, true))
			})
			r.waitWatches(dirs)
			// The deepest directories are watched: writes there are events.
			writeFile(t, filepath.Join(root, "t7/a/b/c/later"), "y")
			r.wait("create in a/b/c", is("t7/a/b/c/later", event.Create, false))
		})
	}
}

// Pitfall 2: a directory renamed within the tree; descendants' paths follow.
func TestDirRenamedWithin(t *testing.T) {
	root := t.TempDir()
	mkdirAll(t, filepath.Join(root, "a/b/c"))
	mkdirAll(t, filepath.Join(root, "dst"))
	r := start(t, root, Options{})
	if got := r.w.watches(); got != 5 {
		t.Fatalf("Watches() = %d, want 5", got)
	}
	// The write right after the rename is queued with the old wd before the
	// reader handles the rename: it must resolve to the new path.
	rename(t, filepath.Join(root, "a"), filepath.Join(root, "dst/x"))
	writeFile(t, filepath.Join(root, "dst/x/b/c/f"), "x")
	b := r.waitBatch("rename a -> dst/x", func(b []event.Event) bool { return has(b, is("dst/x", event.Create|event.Rescan, true)) })
	if !has(b, is("a", event.Remove, true)) {
		t.Errorf("want Remove a (dir) in the same slice as Create dst/x, got\n%s", dump(b))
	}
	r.wait("create in renamed dir", is("dst/x/b/c/f", event.Create, false))
	if has(r.all, func(ev event.Event) bool { return strings.HasPrefix(ev.Path, "a/") }) {
		t.Errorf("event under the old path:\n%s", dump(r.all))
	}
	r.waitWatches(5)
	// Rename again, deeper to shallower, and write at once.
	rename(t, filepath.Join(root, "dst/x/b"), filepath.Join(root, "y"))
	writeFile(t, filepath.Join(root, "y/c/g"), "x")
	r.wait("create after second rename", is("y/c/g", event.Create, false))
	r.waitWatches(5)
}

// Pitfall 3: a directory moved out of the tree; its subtree is dropped and
// later events from it never appear.
func TestDirMovedOut(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	mkdirAll(t, filepath.Join(root, "a/b/c"))
	r := start(t, root, Options{MovePairTimeout: 10 * time.Millisecond})
	rename(t, filepath.Join(root, "a"), filepath.Join(outside, "a"))
	ev := r.wait("remove a", is("a", event.Remove, true))
	if ev.Mask&unix.IN_MOVED_FROM == 0 {
		t.Errorf("mask %#x lacks IN_MOVED_FROM", ev.Mask)
	}
	r.waitWatches(1)
	n := len(r.all)
	writeFile(t, filepath.Join(outside, "a/b/c/f"), "x")
	mkdirAll(t, filepath.Join(outside, "a/b/c/d"))
	r.barrier()
	if evs := r.since(n); has(evs, func(ev event.Event) bool { return !strings.HasPrefix(ev.Path, ".barrier") }) {
		t.Errorf("events from a moved-out directory:\n%s", dump(evs))
	}
}

// Pitfall 3: a directory with content moved in is watched and scanned.
func TestDirMovedIn(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	mkdirAll(t, filepath.Join(outside, "d/e/f"))
	writeFile(t, filepath.Join(outside, "d/e/f/file"), "x")
	writeFile(t, filepath.Join(outside, "file"), "x")
	r := start(t, root, Options{})
	rename(t, filepath.Join(outside, "d"), filepath.Join(root, "in"))
	ev := r.wait("moved-in dir", is("in", event.Create|event.Rescan, true))
	if ev.Mask&unix.IN_MOVED_TO == 0 {
		t.Errorf("mask %#x lacks IN_MOVED_TO", ev.Mask)
	}
	rename(t, filepath.Join(outside, "file"), filepath.Join(root, "file"))
	r.wait("moved-in file", is("file", event.Create, false))
	r.waitWatches(4)
	writeFile(t, filepath.Join(root, "in/e/f/new"), "x")
	r.wait("create in moved-in subdir", is("in/e/f/new", event.Create, false))
}

// Pitfall 4: the two halves of a rename in different reads still pair; a
// reader that takes one event per read forces the split.
func TestMoveHalvesAcrossReads(t *testing.T) {
	root := t.TempDir()
	// Long names make every event bigger than half the read buffer.
	long := strings.Repeat("n", 200)
	mkdirAll(t, filepath.Join(root, long+"1/sub"))
	writeFile(t, filepath.Join(root, long+"f"), "x")
	cfg := defaultConfig()
	cfg.readBufSize = maxEventSize
	// A long timeout: pairing must not depend on both halves in one read.
	r := startCfg(t, root, Options{MovePairTimeout: time.Minute}, cfg)

	rename(t, filepath.Join(root, long+"1"), filepath.Join(root, long+"2"))
	b := r.waitBatch("dir rename", func(b []event.Event) bool { return has(b, is(long+"2", event.Create|event.Rescan, true)) })
	if !has(b, is(long+"1", event.Remove, true)) || len(b) != 2 {
		t.Errorf("want the paired Remove and Create in the MOVED_TO's slice, got\n%s", dump(b))
	}
	rename(t, filepath.Join(root, long+"f"), filepath.Join(root, long+"g"))
	b = r.waitBatch("file rename", func(b []event.Event) bool { return has(b, is(long+"g", event.Create, false)) })
	if !has(b, is(long+"f", event.Remove, false)) {
		t.Errorf("want the paired Remove and Create in one slice, got\n%s", dump(b))
	}
	writeFile(t, filepath.Join(root, long+"2/sub/f"), "x")
	r.wait("create in renamed dir", is(long+"2/sub/f", event.Create, false))
	r.waitWatches(3)
}

// Pitfall 4: unpaired halves time out into a Remove; a rename whose halves
// are split still pairs when the partner is queued by the deadline.
func TestUnpairedHalves(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(root, "f"), "x")
	r := start(t, root, Options{MovePairTimeout: 20 * time.Millisecond})
	rename(t, filepath.Join(root, "f"), filepath.Join(outside, "f"))
	b := r.waitBatch("moved out", func(b []event.Event) bool { return has(b, is("f", event.Remove, false)) })
	if len(b) != 1 {
		t.Errorf("want the expired half alone, got\n%s", dump(b))
	}
	rename(t, filepath.Join(outside, "f"), filepath.Join(root, "g"))
	ev := r.wait("moved in", is("g", event.Create, false))
	if ev.Mask&unix.IN_MOVED_TO == 0 {
		t.Errorf("mask %#x lacks IN_MOVED_TO", ev.Mask)
	}
}

// Pitfall 5: IN_Q_OVERFLOW with a tiny queue: a root Rescan arrives after the
// re-walk, and directories created or removed while events were lost end up
// watched or forgotten.
func TestOverflow(t *testing.T) {
	root := t.TempDir()
	for i := range 10 {
		mkdirAll(t, filepath.Join(root, fmt.Sprintf("old%d/sub", i)))
	}
	// max_queued_events is read when an instance is created: restore it as
	// soon as New returns so that other inotify users barely see it.
	restore := setSysctl(t, queueSysctl(Backend(*testBackend)), "16")
	r := start(t, root, Options{})
	restore()

	// Nobody reads Events now: the reader fills the channel and then the
	// kernel queue overflows.
	for i := range 1500 {
		writeFile(t, filepath.Join(root, fmt.Sprintf("f%d", i)), "x")
	}
	for i := range 10 {
		mkdirAll(t, filepath.Join(root, fmt.Sprintf("new%d/a/b", i)))
		if err := os.RemoveAll(filepath.Join(root, fmt.Sprintf("old%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	ev := r.wait("root Rescan", is("", event.Rescan, true))
	if ev.Mask&unix.IN_Q_OVERFLOW == 0 {
		t.Errorf("root Rescan mask %#x lacks IN_Q_OVERFLOW", ev.Mask)
	}
	r.waitWatches(countDirs(t, root))
	writeFile(t, filepath.Join(root, "new3/a/b/f"), "x")
	r.wait("create in a directory made during the overflow", func(ev event.Event) bool {
		return ev.Path == "new3/a/b/f" || (ev.Path == "" && ev.Op&event.Rescan != 0)
	})
}

// Pitfall 5: a storm of overflows costs few re-walks, backing off.
func TestRewalkSchedule(t *testing.T) {
	var s rewalkSchedule
	t0 := time.Unix(1000, 0)
	s.overflow(t0)
	if due, ok := s.next(); !ok || !due.Equal(t0) {
		t.Fatalf("first overflow: due %v %v, want now", due, ok)
	}
	if !s.start(t0) {
		t.Fatal("first re-walk did not start")
	}
	walks := 1
	now := t0
	var gaps []time.Duration
	lastStart := t0
	// Overflows every 10ms for a minute, each re-walk taking 50ms.
	for end := t0.Add(time.Minute); now.Before(end); now = now.Add(10 * time.Millisecond) {
		s.overflow(now)
		if s.running && now.Sub(lastStart) >= 50*time.Millisecond {
			s.finish(now)
		}
		if s.start(now) {
			walks++
			gaps = append(gaps, now.Sub(lastStart))
			lastStart = now
		}
	}
	if walks > 30 {
		t.Errorf("%d re-walks in a minute of overflows, want few", walks)
	}
	if last := gaps[len(gaps)-1]; last < rewalkMaxBackoff || last > rewalkMaxBackoff+100*time.Millisecond {
		t.Errorf("gap between re-walks at the end of the storm = %v, want about %v", last, rewalkMaxBackoff)
	}
	for i := 1; i < len(gaps); i++ {
		if gaps[i] < gaps[i-1] {
			t.Errorf("gaps shrink during the storm: %v", gaps)
			break
		}
	}
	// Never two at once, and one more after overflows during a run.
	s.finish(now)
	s.overflow(now)
	if !s.scheduled {
		t.Fatal("overflow after a run is not scheduled")
	}
	// After a calm spell the next overflow is repaired at once.
	var c rewalkSchedule
	c.overflow(t0)
	c.start(t0)
	c.finish(t0.Add(time.Second))
	later := t0.Add(time.Second + rewalkCalm)
	c.overflow(later)
	if due, _ := c.next(); !due.Equal(later) {
		t.Errorf("after calm: due %v, want %v", due, later)
	}
}

// Pitfall 6: IN_IGNORED forgets the watches of a removed subtree.
func TestIgnoredForgetsRemovedSubtree(t *testing.T) {
	root := t.TempDir()
	mkdirAll(t, filepath.Join(root, "a/b/c"))
	mkdirAll(t, filepath.Join(root, "keep"))
	r := start(t, root, Options{})
	if got := r.w.watches(); got != 5 {
		t.Fatalf("Watches() = %d, want 5", got)
	}
	if err := os.RemoveAll(filepath.Join(root, "a")); err != nil {
		t.Fatal(err)
	}
	r.wait("remove a", is("a", event.Remove, true))
	r.waitWatches(2)
	// A new directory with the same name is a new watch.
	mkdirAll(t, filepath.Join(root, "a/b"))
	r.wait("recreated a", is("a", event.Create|event.Rescan, true))
	r.waitWatches(4)
	writeFile(t, filepath.Join(root, "a/b/f"), "x")
	r.wait("create in recreated a/b", is("a/b/f", event.Create, false))
}

// Pitfall 7: root deleted, moved or unmounted stops the watcher with an
// error and never reports the content as removed in the same read.
func TestRootDeleted(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	mkdirAll(t, filepath.Join(root, "a"))
	r := start(t, root, Options{})
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	r.waitClosed()
	checkRootError(t, r.w.err(), root, "deleted")
}

func TestRootMoved(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	mkdirAll(t, filepath.Join(root, "a"))
	r := start(t, root, Options{})
	rename(t, root, filepath.Join(parent, "elsewhere"))
	r.waitClosed()
	checkRootError(t, r.w.err(), root, "moved away")
	if has(r.all, func(ev event.Event) bool { return ev.Op&event.Remove != 0 }) {
		t.Errorf("content reported as removed:\n%s", dump(r.all))
	}
}

func TestRootUnmounted(t *testing.T) {
	root := mountTmpfs(t)
	mkdirAll(t, filepath.Join(root, "a/b"))
	writeFile(t, filepath.Join(root, "a/f"), "x")
	r := start(t, root, Options{})
	if err := unix.Unmount(root, unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	r.waitClosed()
	checkRootError(t, r.w.err(), root, "unmounted")
	if has(r.all, func(ev event.Event) bool { return ev.Op&event.Remove != 0 }) {
		t.Errorf("content reported as removed:\n%s", dump(r.all))
	}
}

func checkRootError(t *testing.T, err error, root, cause string) {
	t.Helper()
	var re *RootError
	if !errors.As(err, &re) {
		t.Fatalf("Err() = %v, want a *RootError", err)
	}
	if !strings.Contains(err.Error(), root) || !strings.Contains(err.Error(), cause) {
		t.Errorf("Err() = %q, want it to name %s and say %q", err, root, cause)
	}
}

// mountTmpfs mounts a tmpfs on a new directory and unmounts it at cleanup.
func mountTmpfs(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mnt")
	mkdirAll(t, dir)
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=4m"); err != nil {
		t.Skipf("cannot mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// A file system mounted below the root and unmounted: the directory it
// covered is watched again and rescanned.
func TestSubmountUnmounted(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "m-under"), "")
	mnt := mountTmpfs(t)
	mkdirAll(t, filepath.Join(root, "m"))
	if err := unix.Mount(mnt, filepath.Join(root, "m"), "", unix.MS_BIND, ""); err != nil {
		t.Skipf("cannot bind mount: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(filepath.Join(root, "m"), unix.MNT_DETACH) })
	mkdirAll(t, filepath.Join(root, "m/x/y"))
	r := start(t, root, Options{})
	if got := r.w.watches(); got != 4 {
		t.Fatalf("Watches() = %d, want 4", got)
	}
	// Unmount both: the tmpfs goes away only with its last mount.
	if err := unix.Unmount(filepath.Join(root, "m"), unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	r.wait("rescan of the mount point", is("m", event.Rescan, true))
	r.waitWatches(2)
	writeFile(t, filepath.Join(root, "m/after"), "x")
	r.wait("create in the uncovered directory", is("m/after", event.Create, false))
}

// OneFileSystem: directories of another file system are not watched.
func TestOneFileSystem(t *testing.T) {
	root := t.TempDir()
	mkdirAll(t, filepath.Join(root, "m"))
	mkdirAll(t, filepath.Join(root, "plain"))
	mnt := mountTmpfs(t)
	mkdirAll(t, filepath.Join(mnt, "x/y"))
	if err := unix.Mount(mnt, filepath.Join(root, "m"), "", unix.MS_BIND, ""); err != nil {
		t.Skipf("cannot bind mount: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(filepath.Join(root, "m"), unix.MNT_DETACH) })
	r := start(t, root, Options{OneFileSystem: true})
	if got := r.w.watches(); got != 2 {
		t.Fatalf("Watches() = %d, want 2 (root and plain)", got)
	}
	n := len(r.all)
	writeFile(t, filepath.Join(root, "m/x/f"), "x")
	r.barrier()
	if evs := r.since(n); has(evs, func(ev event.Event) bool { return strings.HasPrefix(ev.Path, "m/") }) {
		t.Errorf("events from another file system:\n%s", dump(evs))
	}
}

// Pitfall 8: the errno of a failed watch becomes an error that says what to
// do; formatting is tested here, the real ENOSPC, EACCES and EMFILE in
// helper processes (helper_linux_test.go).
func TestWatchErrorMessages(t *testing.T) {
	lim := func() watchLimits {
		return watchLimits{limit: limit{name: "fs.inotify.max_user_watches", value: 8192}, needed: 12000}
	}
	err := watchError("watch", "/data/x", unix.ENOSPC, lim)
	want := "watch /data/x: inotify watch limit reached (fs.inotify.max_user_watches=8192; this tree needs at least 12000): raise it with sysctl fs.inotify.max_user_watches=20192"
	if err.Error() != want {
		t.Errorf("ENOSPC:\n got %q\nwant %q", err, want)
	}
	if !errors.Is(err, unix.ENOSPC) {
		t.Error("ENOSPC error does not unwrap to unix.ENOSPC")
	}
	err = watchError("open", "/data/secret", unix.EACCES, nil)
	if !errors.Is(err, fs.ErrPermission) || !strings.HasPrefix(err.Error(), "open /data/secret: permission denied") {
		t.Errorf("EACCES: %q (errors.Is ErrPermission %v)", err, errors.Is(err, fs.ErrPermission))
	}
	err = watchError("watch", "/data/y", unix.ENOMEM, nil)
	if !errors.Is(err, unix.ENOMEM) || !strings.Contains(err.Error(), "/data/y: cannot allocate memory") {
		t.Errorf("ENOMEM: %q", err)
	}
	err = watchError("scan", "/data/z", unix.EIO, nil)
	if err.Error() != "scan /data/z: input/output error" {
		t.Errorf("EIO: %q", err)
	}
	err = initError(unix.EMFILE, limit{name: "fs.inotify.max_user_instances", value: 128}, 1024)
	if !errors.Is(err, unix.EMFILE) || !strings.Contains(err.Error(), "fs.inotify.max_user_instances=128") ||
		!strings.Contains(err.Error(), "RLIMIT_NOFILE=1024") {
		t.Errorf("EMFILE: %q", err)
	}
}

func TestLimitNames(t *testing.T) {
	if got := sysctlName("/proc/sys/fs/inotify/max_user_watches"); got != "fs.inotify.max_user_watches" {
		t.Errorf("sysctlName = %q", got)
	}
	l := readLimit("/proc/sys/fs/inotify/max_user_watches", "/proc/sys/user/max_inotify_watches")
	if l.value <= 0 || l.name != "fs.inotify.max_user_watches" {
		t.Errorf("readLimit in the initial user namespace = %+v", l)
	}
}

// Pitfall 9: truncate(2) and fallocate without a close, and a writer that
// keeps its descriptor open, are reported as Modify.
func TestModifyWithoutClose(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "f")
	writeFile(t, p, "some content")
	r := start(t, root, Options{})

	if err := unix.Truncate(p, 3); err != nil {
		t.Fatal(err)
	}
	r.wait("modify after truncate", is("f", event.Modify, false))

	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := len(r.all)
	if _, err := f.WriteString("more"); err != nil {
		t.Fatal(err)
	}
	ev := r.wait("modify from an open writer", is("f", event.Modify, false))
	if ev.Mask&unix.IN_MODIFY == 0 {
		t.Errorf("mask %#x lacks IN_MODIFY", ev.Mask)
	}
	if has(r.since(n), func(ev event.Event) bool { return ev.Mask&unix.IN_CLOSE_WRITE != 0 }) {
		t.Error("IN_CLOSE_WRITE before the close")
	}
	if err := unix.Fallocate(int(f.Fd()), 0, 0, 1<<20); err != nil {
		t.Skipf("fallocate: %v", err)
	}
	r.wait("modify after fallocate", is("f", event.Modify, false))
}

// Pitfall 10: symlinks are never followed.
func TestSymlinkNotFollowed(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	mkdirAll(t, filepath.Join(outside, "x/y"))
	mkdirAll(t, filepath.Join(root, "real"))
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	r := start(t, root, Options{})
	if got := r.w.watches(); got != 2 {
		t.Fatalf("Watches() = %d, want 2 (root, real)", got)
	}
	n := len(r.all)
	writeFile(t, filepath.Join(outside, "x/y/f"), "x")
	r.barrier()
	if evs := r.since(n); has(evs, func(ev event.Event) bool { return strings.HasPrefix(ev.Path, "link") }) {
		t.Errorf("events through a symlink:\n%s", dump(evs))
	}
	// A symlink to a directory created later is a non-directory object.
	if err := os.Symlink(outside, filepath.Join(root, "link2")); err != nil {
		t.Fatal(err)
	}
	r.wait("create link2", is("link2", event.Create, false))
	// A directory replaced by a symlink: Remove (dir), Create (not dir).
	if err := os.Remove(filepath.Join(root, "real")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "real")); err != nil {
		t.Fatal(err)
	}
	r.wait("remove real", is("real", event.Remove, true))
	r.wait("create real as symlink", is("real", event.Create, false))
	r.waitWatches(1)
	if has(r.all, func(ev event.Event) bool { return ev.IsDir && ev.Op&event.Create != 0 }) {
		t.Errorf("a symlink reported as a directory:\n%s", dump(r.all))
	}
}

// Pitfall 10: a component replaced by a symlink while a directory is being
// opened is refused, with openat2 and without.
func TestOpenDirRefusesSymlinks(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	mkdirAll(t, filepath.Join(outside, "b"))
	mkdirAll(t, filepath.Join(root, "d"))
	if err := os.Symlink(outside, filepath.Join(root, "a")); err != nil {
		t.Fatal(err)
	}
	for _, fallback := range []bool{false, true} {
		w := &treeWatcher{opts: Options{Root: root}, prefix: root + "/", noOpenat2: fallback}
		for _, rel := range []string{"a", "a/b"} {
			if fd, err := w.openDir(rel); err == nil {
				unix.Close(fd)
				t.Errorf("noOpenat2=%v: openDir(%q) followed a symlink", fallback, rel)
			} else if !vanished(err) {
				t.Errorf("noOpenat2=%v: openDir(%q) = %v, want a vanished error", fallback, rel, err)
			}
		}
		fd, err := w.openDir("d")
		if err != nil {
			t.Fatalf("noOpenat2=%v: openDir(d): %v", fallback, err)
		}
		unix.Close(fd)
	}
}

// Pitfall 11: names are bytes and survive unchanged.
func TestWeirdNames(t *testing.T) {
	root := t.TempDir()
	r := start(t, root, Options{})
	names := []string{"new\nline", "-rf", "--delete", "\xff\xfe", "*?[x]", `back\slash`, " sp ", "tab\t", "é"}
	for _, name := range names {
		writeFile(t, filepath.Join(root, name), "x")
	}
	dir := "dir\n\xff*"
	mkdirAll(t, filepath.Join(root, dir))
	r.wait("weird dir", is(dir, event.Create|event.Rescan, true))
	for _, name := range names {
		writeFile(t, filepath.Join(root, dir, name), "x")
	}
	var want []string
	for _, name := range names {
		want = append(want, name, dir+"/"+name)
	}
	r.waitAll("every weird name", want, func(p string, all []event.Event) bool {
		return has(all, is(p, event.Create, false))
	})
	rename(t, filepath.Join(root, dir), filepath.Join(root, "-"+dir))
	r.wait("renamed weird dir", is("-"+dir, event.Create|event.Rescan, true))
	writeFile(t, filepath.Join(root, "-"+dir, "\xff"), "x")
	r.wait("create in renamed weird dir", is("-"+dir+"/\xff", event.Create, false))
}

// Walk=false directories are neither watched nor descended into.
func TestWalkExcludes(t *testing.T) {
	root := t.TempDir()
	mkdirAll(t, filepath.Join(root, "skip/deep"))
	mkdirAll(t, filepath.Join(root, "keep/skip"))
	skip := func(rel string) bool { return filepath.Base(rel) != "skip" }
	r := start(t, root, Options{Walk: skip})
	if got := r.w.watches(); got != 2 {
		t.Fatalf("Watches() = %d, want 2 (root, keep)", got)
	}
	n := len(r.all)
	writeFile(t, filepath.Join(root, "skip/deep/f"), "x")
	writeFile(t, filepath.Join(root, "keep/skip/f"), "x")
	r.barrier()
	if evs := r.since(n); has(evs, func(ev event.Event) bool { return strings.Contains(ev.Path, "skip/") }) {
		t.Errorf("events inside excluded directories:\n%s", dump(evs))
	}
	// A new excluded directory is reported, but not watched or rescanned.
	mkdirAll(t, filepath.Join(root, "keep/new/skip"))
	r.wait("new keep/new", is("keep/new", event.Create|event.Rescan, true))
	r.waitWatches(3)
	// A watched directory renamed twice keeps its watches; an excluded
	// one renamed to a watched name is watched with its subtree.
	rename(t, filepath.Join(root, "keep/new"), filepath.Join(root, "new2"))
	rename(t, filepath.Join(root, "new2"), filepath.Join(root, "keep/new3"))
	r.wait("renamed keep/new3", is("keep/new3", event.Create|event.Rescan, true))
	r.waitWatches(3)
	rename(t, filepath.Join(root, "skip"), filepath.Join(root, "unskipped"))
	r.wait("unskipped", is("unskipped", event.Create|event.Rescan, true))
	r.waitWatches(5)
	// Renamed to an excluded name: reported without Rescan, watches dropped.
	n = len(r.all)
	rename(t, filepath.Join(root, "unskipped"), filepath.Join(root, "skip"))
	r.wait("excluded again", is("skip", event.Create, true))
	r.waitWatches(3)
	if evs := r.since(n); has(evs, func(ev event.Event) bool { return ev.Path == "skip" && ev.Op&event.Rescan != 0 }) {
		t.Errorf("excluded directory reported with Rescan:\n%s", dump(evs))
	}
}

func TestCloseStopsReader(t *testing.T) {
	root := t.TempDir()
	w, err := New(context.Background(), Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	before := readerGoroutines()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-w.Events(); ok {
		t.Error("Events not closed after Close")
	}
	if err := w.Err(); err != nil {
		t.Errorf("Err() after Close = %v, want nil", err)
	}
	// Close returns once the reader closed exited, its last statement; the
	// goroutine itself may still be returning.
	for deadline := time.Now().Add(waitTimeout); readerGoroutines() != before-1; runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatalf("reader goroutines: %d before Close, %d after", before, readerGoroutines())
		}
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// Close must also end a reader blocked on a consumer that stopped reading.
func TestCloseWithUnreadEvents(t *testing.T) {
	root := t.TempDir()
	w, err := New(context.Background(), Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		writeFile(t, filepath.Join(root, fmt.Sprintf("f%d", i)), "x")
	}
	closed := make(chan error, 1)
	go func() { closed <- w.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("Close hung with events nobody read; reader:\n%s", readerStacks())
	}
}

func TestContextCancelStopsReader(t *testing.T) {
	root := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := New(ctx, Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	cancel()
	deadline := time.After(waitTimeout)
	for {
		select {
		case _, ok := <-w.Events():
			if ok {
				continue
			}
		case <-deadline:
			t.Fatal("Events not closed after the context ended")
		}
		break
	}
	if err := w.Err(); err != nil {
		t.Errorf("Err() after cancel = %v, want nil", err)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(context.Background(), Options{Root: "relative"}); err == nil {
		t.Error("New accepted a relative root")
	}
	missing := filepath.Join(t.TempDir(), "missing")
	if _, err := New(context.Background(), Options{Root: missing}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("New(missing) = %v, want ErrNotExist", err)
	}
	dir := t.TempDir()
	link := filepath.Join(dir, "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), Options{Root: link}); err == nil || !strings.Contains(err.Error(), link) {
		t.Errorf("New(symlink) = %v, want an error naming it", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := New(ctx, Options{Root: dir}); !errors.Is(err, context.Canceled) {
		t.Errorf("New(canceled) = %v, want context.Canceled", err)
	}
}

// The initial walk reports how many directories it watches as it goes, at
// most once per ProgressEvery, never more than it holds at the end.
func TestInitialWalkReportsProgress(t *testing.T) {
	root := t.TempDir()
	for i := 0; i < 2000; i++ {
		mkdirAll(t, filepath.Join(root, fmt.Sprintf("d%02d", i%40), fmt.Sprintf("e%04d", i)))
	}
	var reports []int
	w, err := New(context.Background(), Options{Root: root, ProgressEvery: time.Nanosecond,
		Progress: func(watched int) { reports = append(reports, watched) }})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if len(reports) == 0 {
		t.Fatal("no progress reported during a walk of 2041 directories")
	}
	for i, n := range reports {
		if n < 1 || n > w.Watches() || i > 0 && n < reports[i-1] {
			t.Fatalf("progress %v with %d watches at the end", reports, w.Watches())
		}
	}
}
