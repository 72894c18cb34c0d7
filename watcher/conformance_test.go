package watcher

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clsync-go/clsync/event"
)

// The conformance suite: what every backend must do, on the real kernel,
// through the public API only. A consumer (like the agent) keeps a mirror of
// the tree from nothing but the events: for each path it lstats the source
// and copies what is there (a whole subtree for a Rescan) or deletes what is
// not. Once the watcher is quiesced, that mirror must equal the tree.

// conformanceSeed replays the conformance storm: go test ./watcher -run
// Conformance -args -conformance-seed=N (a failing run logs its seed).
var conformanceSeed = flag.Uint64("conformance-seed", 0, "seed of the conformance storm (0: a new one each run)")

// step is one change of a scenario, on paths relative to the root; "@/"
// starts a path outside the tree instead.
type step struct {
	// mkdir, write, append, rm, rmrf, mv, chmod, symlink, link, truncate,
	// openwrite; sync waits for the mirror to equal the tree, so that the
	// steps after it find the watcher in the state the ones before left.
	op   string
	a, b string // the path(s); write/append: b is the content; chmod: b is octal; symlink: a is the target
}

// scenario is one of ../shared/DESIGN.md's pitfalls as data: the tree before
// New, the steps after it, and the tree they converge to.
type scenario struct {
	name   string
	before []step
	steps  []step
	// want lists the converged tree: "d path", "f path content",
	// "l path -> target"; files are 0644 and directories 0755 unless a
	// mode is given after the path as "f path content 0600".
	want []string
}

var scenarios = []scenario{
	{name: "mkdirRace", // pitfall 1: files made in a new directory before it is watched
		steps: []step{{"mkdir", "a/b/c", ""}, {"write", "a/b/c/f", "1"}, {"mkdir", "a/b/d/e", ""}, {"write", "a/b/d/e/g", "2"}, {"write", "a/h", "3"}},
		want:  []string{"d a", "d a/b", "d a/b/c", "f a/b/c/f 1", "d a/b/d", "d a/b/d/e", "f a/b/d/e/g 2", "f a/h 3"}},
	{name: "dirRenamedWithin", // pitfall 2
		before: []step{{"mkdir", "a/b/c", ""}, {"write", "a/b/c/f", "1"}},
		steps: []step{{"mv", "a", "z"}, {"sync", "", ""}, {"write", "z/b/c/g", "2"}, {"mv", "z/b", "y"}, {"sync", "", ""},
			{"write", "y/c/h", "3"}},
		want: []string{"d z", "d y", "d y/c", "f y/c/f 1", "f y/c/g 2", "f y/c/h 3"}},
	{name: "dirMovedOutAndIn", // pitfall 3
		before: []step{{"mkdir", "m/x", ""}, {"write", "m/x/f", "1"}, {"mkdir", "@/in/sub", ""}, {"write", "@/in/sub/f", "2"}},
		steps: []step{{"mv", "m", "@/m"}, {"write", "@/m/x/g", "3"}, {"mv", "@/in", "in"}, {"sync", "", ""},
			{"write", "in/sub/h", "4"}, {"mkdir", "in/sub/new", ""}},
		want: []string{"d in", "d in/sub", "f in/sub/f 2", "f in/sub/h 4", "d in/sub/new"}},
	{name: "unpairedMoves", // pitfall 4: a move out is a removal, a move in a creation
		before: []step{{"write", "f", "1"}, {"write", "@/g", "2"}},
		steps:  []step{{"mv", "f", "@/f"}, {"mv", "@/g", "g"}, {"mv", "g", "h"}},
		want:   []string{"f h 2"}},
	{name: "removedAndRecreated", // pitfall 6: a new directory at an old name
		before: []step{{"mkdir", "a/b/c", ""}, {"write", "a/b/c/f", "1"}},
		steps: []step{{"rmrf", "a", ""}, {"mkdir", "a/b", ""}, {"write", "a/b/g", "2"}, {"rmrf", "a/b", ""}, {"mkdir", "a/b/c", ""},
			{"sync", "", ""}, {"write", "a/b/c/f", "3"}},
		want: []string{"d a", "d a/b", "d a/b/c", "f a/b/c/f 3"}},
	{name: "writerNeverCloses", // pitfall 9: truncate and writes without a close
		before: []step{{"write", "t", "long content"}},
		steps:  []step{{"truncate", "t", ""}, {"openwrite", "w", "open"}, {"append", "w2", "x"}},
		want:   []string{"f t ", "f w open", "f w2 x"}},
	{name: "symlinksNotFollowed", // pitfall 10
		before: []step{{"mkdir", "@/target", ""}, {"mkdir", "d/sub", ""}, {"write", "d/sub/f", "1"}},
		steps: []step{{"symlink", "@/target", "link"}, {"write", "@/target/f", "outside"},
			{"rmrf", "d", ""}, {"symlink", "@/target", "d"}, {"write", "@/target/g", "outside"}},
		want: []string{"l link -> @/target", "l d -> @/target"}},
	{name: "namesAreBytes", // pitfall 11
		steps: []step{{"mkdir", "-dash/new\nline", ""}, {"write", "-dash/new\nline/\xff\xfe", "1"},
			{"write", "*?[x]", "2"}, {"mv", "*?[x]", "sp ace\\"}, {"write", "-dash/--", "3"}},
		want: []string{"d -dash", "d -dash/new\nline", "f -dash/new\nline/\xff\xfe 1", "f sp ace\\ 2", "f -dash/-- 3"}},
	{name: "removedDirsLeave", // pitfall 12
		before: []step{{"mkdir", "old/a/b", ""}, {"write", "old/a/b/f", "1"}, {"mkdir", "gone/x", ""}, {"write", "gone/x/f", "2"}},
		steps:  []step{{"mv", "old", "@/old"}, {"rmrf", "gone", ""}},
		want:   nil},
	{name: "replacedByOtherKind", // a file becomes a directory and back, at one name
		before: []step{{"write", "x", "1"}, {"mkdir", "y/z", ""}},
		steps:  []step{{"rm", "x", ""}, {"mkdir", "x/in", ""}, {"rmrf", "y", ""}, {"write", "y", "2"}},
		want:   []string{"d x", "d x/in", "f y 2"}},
	{name: "renameOverEmptyDir",
		before: []step{{"mkdir", "a/sub", ""}, {"write", "a/sub/f", "1"}, {"mkdir", "b", ""}},
		steps:  []step{{"mv", "a", "b"}, {"sync", "", ""}, {"write", "b/sub/g", "2"}},
		want:   []string{"d b", "d b/sub", "f b/sub/f 1", "f b/sub/g 2"}},
	{name: "attributesAndLinks",
		before: []step{{"write", "f", "1"}, {"mkdir", "d", ""}},
		steps:  []step{{"chmod", "f", "600"}, {"chmod", "d", "700"}, {"link", "f", "d/hard"}},
		want:   []string{"f f 1 0600", "d d 0700", "f d/hard 1 0600"}},
}

// target is what the suite runs on: a backend of this system through New,
// or, on Linux, the FreeBSD backends' snapshot core driven by Linux's
// inotify (osTargets).
type target struct {
	name    string
	backend Backend // what Watcher.Backend must say
	start   func(ctx context.Context, opts Options) (*Watcher, error)
}

func targets() []target {
	var ts []target
	for _, b := range backends() {
		ts = append(ts, target{name: string(b), backend: b, start: func(ctx context.Context, opts Options) (*Watcher, error) {
			opts.Backend = b
			return New(ctx, opts)
		}})
	}
	return append(ts, osTargets()...)
}

// TestConformance runs every scenario on every backend of this system.
func TestConformance(t *testing.T) {
	for _, b := range targets() {
		t.Run(b.name, func(t *testing.T) {
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) {
					root, outside := t.TempDir(), t.TempDir()
					apply(t, root, outside, sc.before, nil)
					c := startConformance(t, b, root, Options{})
					apply(t, root, outside, sc.steps, c)
					c.converge(t)
					want := make([]string, len(sc.want))
					for i, w := range sc.want {
						want[i] = strings.ReplaceAll(w, "@/", outside+"/")
					}
					if got := describe(t, root); !slices.Equal(got, sortedTree(want)) {
						t.Fatalf("the tree is not what the scenario says (a broken scenario):\n got %q\nwant %q", got, sortedTree(want))
					}
				})
			}
		})
	}
}

// TestConformanceRootDeleted: pitfall 7, the root going away stops the
// watcher with a RootError; moved away, its content was not removed, and
// the mirror keeps it.
func TestConformanceRootDeleted(t *testing.T) {
	for _, b := range targets() {
		t.Run(b.name, func(t *testing.T) {
			for _, how := range []string{"deleted", "moved"} {
				t.Run(how, func(t *testing.T) {
					parent := t.TempDir()
					root := filepath.Join(parent, "root")
					apply(t, root, parent, []step{{"mkdir", "a/b", ""}, {"write", "a/b/f", "1"}}, nil)
					c := startConformance(t, b, root, Options{})
					var err error
					if how == "deleted" {
						err = os.RemoveAll(root)
					} else {
						err = os.Rename(root, filepath.Join(parent, "away"))
					}
					if err != nil {
						t.Fatal(err)
					}
					c.untilDone(t)
					var re *RootError
					if !errors.As(c.w.Err(), &re) {
						t.Fatalf("Err() = %v, want a *RootError", c.w.Err())
					}
					if _, ok := c.model["a/b/f"]; !ok && how == "moved" {
						t.Errorf("the mirror lost a/b/f before the watcher stopped: %q", c.paths())
					}
				})
			}
		})
	}
}

// TestConformanceStorm: concurrent random changes from a replayable seed;
// once quiesced, the mirror equals the tree.
func TestConformanceStorm(t *testing.T) {
	for _, b := range targets() {
		t.Run(b.name, func(t *testing.T) {
			root, outside := t.TempDir(), t.TempDir()
			seed := *conformanceSeed
			if seed == 0 {
				seed = uint64(time.Now().UnixNano())
			}
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("replay with -args -conformance-seed=%d", seed)
				}
			})
			apply(t, root, outside, []step{{"mkdir", "d0/d1/d2", ""}, {"write", "d0/f0", "x"}}, nil)
			c := startConformance(t, b, root, Options{MovePairTimeout: 5 * time.Millisecond})
			randomStorm(t, root, outside, seed, 4, 1500)
			c.converge(t)
		})
	}
}

// randomStorm makes ops random changes in each of workers goroutines, on
// paths of up to three components, racing each other (errors are part of
// the game) and the watcher.
func randomStorm(t *testing.T, root, outside string, seed uint64, workers, ops int) {
	t.Helper()
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			path := func() string {
				parts := make([]string, 1+rng.IntN(3))
				for i := range parts {
					parts[i] = fmt.Sprintf("d%d", rng.IntN(4))
				}
				return filepath.Join(root, filepath.Join(parts...))
			}
			for i := range ops {
				switch rng.IntN(10) {
				case 0, 1:
					_ = os.MkdirAll(path(), 0o755)
				case 2, 3:
					_ = os.WriteFile(filepath.Join(path(), fmt.Sprintf("f%d", rng.IntN(3))), []byte(fmt.Sprint(i)), 0o644)
				case 4:
					_ = os.RemoveAll(path())
				case 5, 6:
					_ = os.Rename(path(), path())
				case 7:
					_ = os.Rename(path(), filepath.Join(outside, fmt.Sprintf("out-%d-%d", g, i)))
				case 8:
					src := filepath.Join(outside, fmt.Sprintf("in-%d-%d", g, i))
					_ = os.MkdirAll(filepath.Join(src, "x/y"), 0o755)
					_ = os.WriteFile(filepath.Join(src, "x/f"), []byte("in"), 0o644)
					_ = os.Rename(src, path())
				case 9:
					_ = os.Chmod(path(), 0o700+os.FileMode(rng.IntN(2))*0o55)
				}
			}
		})
	}
	wg.Wait()
}

// conformer is the consumer: a watcher and the mirror kept from its events.
type conformer struct {
	w     *Watcher
	root  string
	model map[string]entry
}

// entry is what the mirror holds of one path.
type entry struct {
	mode    fs.FileMode
	content string // a file's bytes, a symlink's target
}

func startConformance(t *testing.T, b target, root string, opts Options) *conformer {
	t.Helper()
	opts.Root = root
	w, err := b.start(context.Background(), opts)
	if err != nil {
		if skip := backendMissing(b.backend); skip != "" {
			t.Skipf("backend %s: %s (%v)", b.name, skip, err)
		}
		t.Fatalf("New(%s, %s): %v", root, b.name, err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if got := w.Backend(); got != b.backend {
		t.Fatalf("Backend() = %s, want %s", got, b.backend)
	}
	// The initial sync: a copy of the tree once New has returned.
	c := &conformer{w: w, root: root, model: make(map[string]entry)}
	c.copyTree(t, "")
	return c
}

// backendMissing says why backend b cannot run here, or "".
func backendMissing(b Backend) string {
	if b == Fanotify && os.Geteuid() != 0 {
		return "fanotify needs root (CAP_SYS_ADMIN); run the tests as root"
	}
	return ""
}

// converge quiesces the watcher while consuming its events, then checks the
// mirror against the tree.
func (c *conformer) converge(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	quiesced := make(chan error, 1)
	go func() { quiesced <- c.w.Quiesce(ctx) }()
	for waiting := true; waiting; {
		select {
		case evs, ok := <-c.w.Events():
			if !ok {
				t.Fatalf("the watcher stopped: %v", c.w.Err())
			}
			c.applyEvents(t, evs)
		case err := <-quiesced:
			if err != nil {
				t.Fatalf("Quiesce: %v", err)
			}
			waiting = false
		}
	}
	// What was delivered before Quiesce returned is in the channel now.
	for drained := false; !drained; {
		select {
		case evs, ok := <-c.w.Events():
			if !ok {
				t.Fatalf("the watcher stopped: %v", c.w.Err())
			}
			c.applyEvents(t, evs)
		default:
			drained = true
		}
	}
	want := make(map[string]entry)
	c.read(t, "", want)
	if got := c.describeModel(c.model); !slices.Equal(got, c.describeModel(want)) {
		t.Fatalf("the mirror differs from the tree:\n%s", diffLines(got, c.describeModel(want)))
	}
}

// untilDone consumes events until the watcher stops.
func (c *conformer) untilDone(t *testing.T) {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case evs, ok := <-c.w.Events():
			if !ok {
				return
			}
			c.applyEvents(t, evs)
		case <-timeout:
			t.Fatal("the watcher did not stop")
		}
	}
}

// applyEvents does what a sync does for each event: the path's current
// state wins.
func (c *conformer) applyEvents(t *testing.T, evs []event.Event) {
	t.Helper()
	for _, ev := range evs {
		if ev.Op&event.Rescan != 0 {
			c.removeTree(ev.Path)
			c.copyTree(t, ev.Path)
			continue
		}
		e, ok := c.lstat(t, ev.Path)
		if !ok {
			c.removeTree(ev.Path)
			continue
		}
		if old, had := c.model[ev.Path]; had && old.mode.IsDir() != e.mode.IsDir() {
			c.removeTree(ev.Path)
		}
		c.model[ev.Path] = e
	}
}

func (c *conformer) removeTree(rel string) {
	for p := range c.model {
		if p == rel || rel == "" || strings.HasPrefix(p, rel+"/") {
			delete(c.model, p)
		}
	}
}

func (c *conformer) copyTree(t *testing.T, rel string) { c.read(t, rel, c.model) }

// read puts rel and everything below it, as it is now, into m.
func (c *conformer) read(t *testing.T, rel string, m map[string]entry) {
	t.Helper()
	e, ok := c.lstat(t, rel)
	if !ok {
		return
	}
	if rel != "" {
		m[rel] = e
	}
	if !e.mode.IsDir() {
		return
	}
	names, err := os.ReadDir(filepath.Join(c.root, rel))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return // changed under us: a later event says what it became
		}
		t.Fatal(err)
	}
	for _, d := range names {
		c.read(t, joinRel(rel, d.Name()), m)
	}
}

func joinRel(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// lstat reads rel as the mirror keeps it; false when it is not there.
func (c *conformer) lstat(t *testing.T, rel string) (entry, bool) {
	t.Helper()
	p := filepath.Join(c.root, rel)
	fi, err := os.Lstat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return entry{}, false
		}
		t.Fatal(err)
	}
	e := entry{mode: fi.Mode()}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		e.content, err = os.Readlink(p)
	case fi.Mode().IsRegular():
		var b []byte
		b, err = os.ReadFile(p)
		e.content = string(b)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return entry{}, false
		}
		t.Fatal(err)
	}
	return e, true
}

func (c *conformer) paths() []string {
	var out []string
	for p := range c.model {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func (c *conformer) describeModel(m map[string]entry) []string {
	var out []string
	for p, e := range m {
		out = append(out, fmt.Sprintf("%q %v %q", p, e.mode, e.content))
	}
	slices.Sort(out)
	return out
}

// diffLines shows what only one side has.
func diffLines(got, want []string) string {
	var b strings.Builder
	for _, g := range got {
		if _, found := slices.BinarySearch(want, g); !found {
			fmt.Fprintf(&b, "  mirror only: %s\n", g)
		}
	}
	for _, w := range want {
		if _, found := slices.BinarySearch(got, w); !found {
			fmt.Fprintf(&b, "  tree only:   %s\n", w)
		}
	}
	return b.String()
}

// apply makes the steps; "@/" paths are below outside. c converges on sync.
func apply(t *testing.T, root, outside string, steps []step, c *conformer) {
	t.Helper()
	abs := func(p string) string {
		if rest, ok := strings.CutPrefix(p, "@/"); ok {
			return filepath.Join(outside, rest)
		}
		return filepath.Join(root, p)
	}
	for _, s := range steps {
		var err error
		switch s.op {
		case "sync":
			c.converge(t)
		case "mkdir":
			err = os.MkdirAll(abs(s.a), 0o755)
		case "write":
			err = os.WriteFile(abs(s.a), []byte(s.b), 0o644)
		case "append":
			var f *os.File
			if f, err = os.OpenFile(abs(s.a), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err == nil {
				_, err = f.WriteString(s.b)
				err = errors.Join(err, f.Close())
			}
		case "openwrite":
			// Written and left open until the test ends.
			var f *os.File
			if f, err = os.OpenFile(abs(s.a), os.O_WRONLY|os.O_CREATE, 0o644); err == nil {
				_, err = f.WriteString(s.b)
				t.Cleanup(func() { f.Close() })
			}
		case "truncate":
			err = os.Truncate(abs(s.a), 0)
		case "rm":
			err = os.Remove(abs(s.a))
		case "rmrf":
			err = os.RemoveAll(abs(s.a))
		case "mv":
			// rename(2) itself: os.Rename refuses to replace a directory.
			err = syscall.Rename(abs(s.a), abs(s.b))
		case "chmod":
			var mode uint32
			if _, err = fmt.Sscanf(s.b, "%o", &mode); err == nil {
				err = os.Chmod(abs(s.a), fs.FileMode(mode))
			}
		case "symlink":
			err = os.Symlink(abs(s.a), abs(s.b))
		case "link":
			err = os.Link(abs(s.a), abs(s.b))
		default:
			err = fmt.Errorf("unknown step %q", s.op)
		}
		if err != nil {
			t.Fatalf("step %s %q %q: %v", s.op, s.a, s.b, err)
		}
	}
}

// describe lists the tree in the scenarios' "want" notation, sorted.
func describe(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			out = append(out, withMode("d "+rel, fi.Mode().Perm(), 0o755))
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out = append(out, "l "+rel+" -> "+target)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out = append(out, withMode("f "+rel+" "+string(b), fi.Mode().Perm(), 0o644))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sortedTree(out)
}

func withMode(s string, mode, usual fs.FileMode) string {
	if mode == usual {
		return s
	}
	return fmt.Sprintf("%s %04o", s, mode)
}

func sortedTree(lines []string) []string {
	out := slices.Clone(lines)
	slices.Sort(out)
	return out
}
