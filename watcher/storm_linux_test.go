//go:build linux

package watcher

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/clsync-go/clsync/event"
	"github.com/clsync-go/clsync/internal/testlog"
)

// RENAME_EXCHANGE of two watched directories: two rename pairs whose second
// "moved from" names the first one's target.
func TestRenameExchange(t *testing.T) {
	root := t.TempDir()
	mkdirAll(t, filepath.Join(root, "a/a1"))
	mkdirAll(t, filepath.Join(root, "b/b1/b2"))
	r := start(t, root, Options{})
	err := unix.Renameat2(unix.AT_FDCWD, filepath.Join(root, "a"), unix.AT_FDCWD, filepath.Join(root, "b"), unix.RENAME_EXCHANGE)
	if err != nil {
		t.Skipf("renameat2 RENAME_EXCHANGE: %v", err)
	}
	writeFile(t, filepath.Join(root, "a/b1/b2/f"), "x")
	writeFile(t, filepath.Join(root, "b/a1/f"), "x")
	r.waitAll("both files", []string{"a/b1/b2/f", "b/a1/f"}, coveredBy(event.Create))
	r.waitWatches(6)
	writeFile(t, filepath.Join(root, "a/b1/b2/g"), "x")
	r.wait("create in exchanged a", is("a/b1/b2/g", event.Create, false))
	writeFile(t, filepath.Join(root, "b/a1/g"), "x")
	r.wait("create in exchanged b", is("b/a1/g", event.Create, false))
	checkTree(t, r, nil)
}

// A directory renamed over an empty one replaces it.
func TestRenameOverEmptyDir(t *testing.T) {
	root := t.TempDir()
	mkdirAll(t, filepath.Join(root, "a/sub"))
	mkdirAll(t, filepath.Join(root, "b"))
	r := start(t, root, Options{})
	// os.Rename refuses an existing directory as the target; rename(2) does not.
	if err := unix.Rename(filepath.Join(root, "a"), filepath.Join(root, "b")); err != nil {
		t.Fatal(err)
	}
	r.wait("b replaced", is("b", event.Create|event.Rescan, true))
	r.waitWatches(3)
	writeFile(t, filepath.Join(root, "b/sub/f"), "x")
	r.wait("create in b/sub", is("b/sub/f", event.Create, false))
	checkTree(t, r, nil)
}

// A directory with more subdirectories than a node lists keeps them in a
// map (see maxListedChildren); renames within and out of it, and deletions
// down to none and creations after that, keep the tree right.
func TestWideDirectory(t *testing.T) {
	root := t.TempDir()
	const n = maxListedChildren + 8
	for i := range n {
		mkdirAll(t, filepath.Join(root, fmt.Sprintf("wide/d%d/sub", i)))
	}
	mkdirAll(t, filepath.Join(root, "other"))
	r := start(t, root, Options{})
	r.waitWatches(3 + 2*n)
	for i := range 10 {
		rename(t, filepath.Join(root, fmt.Sprintf("wide/d%d", i)), filepath.Join(root, fmt.Sprintf("wide/r%d", i)))
		rename(t, filepath.Join(root, fmt.Sprintf("wide/d%d", 10+i)), filepath.Join(root, fmt.Sprintf("other/m%d", i)))
	}
	writeFile(t, filepath.Join(root, "wide/r3/sub/f"), "x")
	r.wait("create in a directory renamed within the wide one", is("wide/r3/sub/f", event.Create, false))
	writeFile(t, filepath.Join(root, "other/m4/sub/f"), "x")
	r.wait("create in a directory moved out of the wide one", is("other/m4/sub/f", event.Create, false))
	r.waitWatches(3 + 2*n)
	entries, err := os.ReadDir(filepath.Join(root, "wide"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(root, "wide", e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	r.waitWatches(3 + 2*10)
	for i := range 3 {
		mkdirAll(t, filepath.Join(root, fmt.Sprintf("wide/n%d/sub", i)))
	}
	r.waitWatches(3 + 2*10 + 2*3)
	writeFile(t, filepath.Join(root, "wide/n1/sub/f"), "x")
	r.wait("create in a directory made after the wide one emptied", is("wide/n1/sub/f", event.Create, false))
	checkTree(t, r, nil)
	if len(r.w.bigDirs) != 0 {
		t.Errorf("%d directories keep their children in a map, want none", len(r.w.bigDirs))
	}
}

// checkTree closes the watcher and compares its tree with the directories on
// disk that monitor (nil: all) selects: same paths, each with its own wd.
func checkTree(t *testing.T, r *rec, monitor func(string) bool) {
	t.Helper()
	if err := r.w.close(); err != nil {
		t.Fatal(err)
	}
	var got []string
	var walk func(n *node)
	walk = func(n *node) {
		rel := r.w.relPath(n, "")
		if !n.attached() || r.w.wds.get(n.wd) != n {
			t.Errorf("node %q (wd %d) attached=%v, wds has %p", rel, n.wd, n.attached(), r.w.wds.get(n.wd))
		}
		if n.first != nil && r.w.bigDirs[n] != nil {
			t.Errorf("node %q has children both in its list and in a map", rel)
		}
		got = append(got, rel)
		seen := make(map[string]bool)
		for c := range r.w.children(n) {
			if c.parent != n || seen[c.name] || r.w.child(n, c.name) != c {
				t.Errorf("node %q: child %q (parent %p, not %p) is listed twice or not found by name", rel, c.name, c.parent, n)
			}
			seen[c.name] = true
			walk(c)
		}
	}
	walk(r.w.root)
	want := watchedDirs(t, r.root, monitor)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("watched directories differ from the disk:\n got %q\nwant %q", got, want)
	}
}

// watchedDirs lists, sorted, the directories below root that a watcher with
// monitor (nil: all) watches.
func watchedDirs(t *testing.T, root string, monitor func(string) bool) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			rel = ""
		} else if monitor != nil && !monitor(rel) {
			return filepath.SkipDir
		}
		dirs = append(dirs, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(dirs)
	return dirs
}

// stormSeed replays TestStormConverges: go test ./watcher -run Storm -args
// -storm-seed=N (a failing run logs its seed).
var stormSeed = flag.Uint64("storm-seed", 0, "seed of TestStormConverges's storm (0: a new one each run)")

// A storm of concurrent creations, deletions, renames within, moves in and
// out and exchanges: once it settles, the watches match the disk exactly,
// and every path on disk was reported (itself, or below a Rescan) after the
// last change that may have touched it: an event reported early and not
// after a later change does not count.
func TestStormConverges(t *testing.T) {
	noD3 := func(rel string) bool { return filepath.Base(rel) != "d3" }
	for _, tc := range []struct {
		name      string
		cfg       config
		monitor   func(string) bool
		tinyQueue bool // overflow again and again
		// wide: the root gets so many subdirectories that it keeps them
		// in a map rather than a list (see maxListedChildren).
		wide bool
	}{
		{name: "default", cfg: defaultConfig()},
		{name: "oneEventPerRead", cfg: config{readBufSize: maxEventSize, maxBacklog: 1 << 16}},
		{name: "monitor", cfg: defaultConfig(), monitor: noD3},
		{name: "overflow", cfg: defaultConfig(), tinyQueue: true},
		{name: "wide", cfg: defaultConfig(), wide: true},
		{name: "wideOverflow", cfg: defaultConfig(), tinyQueue: true, wide: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, outside := t.TempDir(), t.TempDir()
			seed := *stormSeed
			if seed == 0 {
				seed = uint64(time.Now().UnixNano())
			}
			var trace testlog.Buffer
			t.Cleanup(func() {
				if t.Failed() {
					lines := strings.Split(string(trace.Bytes()), "\n")
					t.Logf("replay with -args -storm-seed=%d; last lines of the trace:\n%s", seed, strings.Join(lines[max(0, len(lines)-300):], "\n"))
				}
			})
			logger := slog.New(slog.NewTextHandler(&trace, &slog.HandlerOptions{Level: slog.LevelDebug}))
			restore := func() {}
			if tc.tinyQueue {
				restore = setSysctl(t, queueSysctl(Backend(*testBackend)), "16")
			}
			opts := Options{MovePairTimeout: 5 * time.Millisecond, Logger: logger, Walk: tc.monitor}
			r := startCfg(t, root, opts, tc.cfg)
			restore()
			width := 4
			if tc.wide {
				width = 3 * maxListedChildren
			}
			log := storm(t, root, outside, seed, 400*time.Millisecond, width)
			r.waitWatches(len(watchedDirs(t, root, tc.monitor)))
			// Every walk the storm started is done and reported: what
			// follows is reported by the events of the last writes.
			r.quiesce()
			log.lastWrites(t, root, tc.monitor)
			var want []string
			err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
				if err != nil {
					return err
				}
				rel, _ := filepath.Rel(root, p)
				switch {
				case rel == "." || strings.HasPrefix(filepath.Base(rel), ".barrier"):
				case tc.monitor != nil && d.IsDir() && !tc.monitor(rel):
					want = append(want, rel) // reported, its content is not
					return filepath.SkipDir
				default:
					want = append(want, rel)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			r.waitAll("every path on disk reported after its last change", want, log.reportedSince(r))
			checkTree(t, r, tc.monitor)
		})
	}
}

// touch is one change the storm made: when it started, and the paths it
// may have changed (the targets of a rename, a removal, the directories a
// MkdirAll may have made, a file written), relative to the root.
type touch struct {
	at    time.Time
	paths []string
}

// stormLog is what the storm's workers did, to check that the last change
// of every path was reported after it was made.
type stormLog struct {
	mu      sync.Mutex
	touches []touch
}

func (l *stormLog) add(at time.Time, paths ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.touches = append(l.touches, touch{at, paths})
}

// lastChange is when the last change that may have touched p, or a
// directory above it, started.
func (l *stormLog) lastChange(p string) time.Time {
	var last time.Time
	for _, c := range l.touches {
		for _, q := range c.paths {
			if (q == p || strings.HasPrefix(p, q+"/")) && c.at.After(last) {
				last = c.at
			}
		}
	}
	return last
}

// reportedSince tells whether p was reported after its last change: an
// event for p itself (whatever its op: consumers merge ops and look at the
// path), or a Rescan of a directory above it, received after that change
// started. A change reported only before a later change would fail it.
func (l *stormLog) reportedSince(r *rec) func(p string, all []event.Event) bool {
	return func(p string, all []event.Event) bool {
		since := l.lastChange(p)
		for i := len(all) - 1; i >= 0 && r.at[i].After(since); i-- {
			ev := all[i]
			if ev.Path == p || ev.Op&event.Rescan != 0 && (ev.Path == "" || strings.HasPrefix(p, ev.Path+"/")) {
				return true
			}
		}
		return false
	}
}

// storm makes random changes for d to paths of one to three components:
// the first one of width names, the others of four. It logs each change
// that succeeded, with the time it started.
func storm(t *testing.T, root, outside string, seed uint64, d time.Duration, width int) *stormLog {
	t.Helper()
	log := &stormLog{}
	end := time.Now().Add(d)
	rel := func(p string) string { r, _ := filepath.Rel(root, p); return r }
	prefixes := func(p string) []string {
		var out []string
		for r := rel(p); r != "."; r = filepath.Dir(r) {
			out = append(out, r)
		}
		return out
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			path := func() string {
				parts := make([]string, 1+rng.IntN(3))
				for i := range parts {
					n := 4
					if i == 0 {
						n = width
					}
					parts[i] = fmt.Sprintf("d%d", rng.IntN(n))
				}
				return filepath.Join(root, filepath.Join(parts...))
			}
			for i := 0; time.Now().Before(end); i++ {
				// Errors are expected: the workers race each other.
				start := time.Now()
				switch rng.IntN(9) {
				case 0, 1:
					p := path()
					if os.MkdirAll(p, 0o755) == nil {
						log.add(start, prefixes(p)...)
					}
				case 2:
					p := filepath.Join(path(), fmt.Sprintf("f%d", rng.IntN(3)))
					if os.WriteFile(p, []byte("x"), 0o644) == nil {
						log.add(start, rel(p))
					}
				case 3:
					p := path()
					if os.RemoveAll(p) == nil {
						log.add(start, rel(p))
					}
				case 4, 5:
					a, b := path(), path()
					if os.Rename(a, b) == nil {
						log.add(start, rel(a), rel(b))
					}
				case 6:
					a := path()
					if os.Rename(a, filepath.Join(outside, fmt.Sprintf("out-%d-%d", g, i))) == nil {
						log.add(start, rel(a))
					}
				case 7:
					src := filepath.Join(outside, fmt.Sprintf("in-%d-%d", g, i))
					_ = os.MkdirAll(filepath.Join(src, "x/y"), 0o755)
					_ = os.WriteFile(filepath.Join(src, "x/f"), []byte("x"), 0o644)
					b := path()
					start = time.Now()
					if os.Rename(src, b) == nil {
						log.add(start, rel(b))
					}
				case 8:
					a, b := path(), path()
					if unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE) == nil {
						log.add(start, rel(a), rel(b))
					}
				}
			}
		})
	}
	wg.Wait()
	return log
}

// lastWrites makes a last change to every file on disk and a new file in
// every directory the watcher walks: each needs an event of its own, at
// the path the watcher has for the directory now.
func (l *stormLog) lastWrites(t *testing.T, root string, walk func(string) bool) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.Type().IsRegular() && !strings.HasPrefix(d.Name(), ".barrier"):
			l.add(time.Now(), rel)
			return os.WriteFile(p, []byte("last"), 0o644)
		case d.IsDir() && walk != nil && rel != "." && !walk(rel):
			return filepath.SkipDir
		case d.IsDir():
			late := filepath.Join(p, "late")
			l.add(time.Now(), filepath.Join(rel, "late"))
			return os.WriteFile(late, []byte("late"), 0o644)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Renames while New walks: a directory being listed and one not reached
// yet move. New follows the queued events (a step whose parent path went
// stale waits for them), so the tree is right when it returns, and the
// events of the meantime are delivered first.
func TestRenamesDuringNew(t *testing.T) {
	root := t.TempDir()
	for i := range 5 {
		mkdirAll(t, filepath.Join(root, fmt.Sprintf("a%d/b/c", i)))
	}
	var once sync.Once
	monitor := func(rel string) bool {
		if strings.HasSuffix(rel, "/b") {
			// Called while the first a%d is being listed, once it is watched.
			once.Do(func() {
				for i := range 5 {
					rename(t, filepath.Join(root, fmt.Sprintf("a%d", i)), filepath.Join(root, fmt.Sprintf("z%d", i)))
				}
			})
		}
		return true
	}
	r := start(t, root, Options{Walk: monitor})
	for i := range 5 {
		r.waitAll("renamed during New", []string{fmt.Sprintf("z%d", i)}, func(p string, all []event.Event) bool {
			return has(all, is(p, event.Create|event.Rescan, true))
		})
	}
	r.waitWatches(16)
	writeFile(t, filepath.Join(root, "z3/b/c/f"), "x")
	r.wait("create in a directory renamed during New", is("z3/b/c/f", event.Create, false))
	checkTree(t, r, nil)
}

// What New's walk sees happen is kept for the reader, within a bound: past
// it, it collapses into one root Rescan.
func TestBacklogDuringNew(t *testing.T) {
	root := t.TempDir()
	mkdirAll(t, filepath.Join(root, "a"))
	var once sync.Once
	monitor := func(rel string) bool {
		once.Do(func() {
			for i := range 10 {
				writeFile(t, filepath.Join(root, fmt.Sprintf("f%d", i)), "x")
			}
		})
		return true
	}
	cfg := defaultConfig()
	cfg.maxBacklog = 4
	r := startCfg(t, root, Options{Walk: monitor}, cfg)
	ev := r.wait("root Rescan for the backlog", is("", event.Rescan, true))
	if ev.Mask != 0 {
		t.Errorf("backlog Rescan mask %#x, want 0 (synthetic)", ev.Mask)
	}
	if len(r.batches[0]) > cfg.maxBacklog+1 {
		t.Errorf("first slice has %d events, want at most %d", len(r.batches[0]), cfg.maxBacklog+1)
	}
}

// BenchmarkNew measures New's walk of a tree of 4000 directories.
func BenchmarkNew(b *testing.B) {
	root := b.TempDir()
	for i := range 40 {
		for j := range 99 {
			if err := os.MkdirAll(filepath.Join(root, fmt.Sprintf("d%d/e%d", i, j)), 0o755); err != nil {
				b.Fatal(err)
			}
		}
	}
	for b.Loop() {
		w, err := New(context.Background(), Options{Root: root})
		if err != nil {
			b.Fatal(err)
		}
		if got := w.Watches(); got != 1+40+40*99 {
			b.Fatalf("Watches() = %d", got)
		}
		w.Close()
	}
}
