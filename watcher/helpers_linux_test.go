//go:build linux

package watcher

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/clsync-go/clsync/event"
)

// waitTimeout bounds every wait for an event; generous, as the machine may be
// loaded and the race detector slows everything down.
const waitTimeout = 10 * time.Second

// rec reads a watcher's events for a test and keeps all it has seen.
type rec struct {
	t        *testing.T
	w        *treeWatcher
	root     string
	all      []event.Event
	batches  [][]event.Event
	closed   bool
	barriers int
	pos      int         // r.all before pos was matched by wait already
	bpos     int         // likewise for r.batches and waitBatch
	at       []time.Time // when each event of all was received
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// start watches root with opts (Root and Logger are filled in) and closes the
// watcher when the test ends.
func start(t *testing.T, root string, opts Options) *rec {
	t.Helper()
	return startCfg(t, root, opts, defaultConfig())
}

// testBackend is the backend the tests that use start run on: make test
// runs the package once per backend (-args -backend=fanotify).
var testBackend = flag.String("backend", string(Inotify), "backend the watcher tests run on: inotify or fanotify")

func startCfg(t *testing.T, root string, opts Options, cfg config) *rec {
	t.Helper()
	opts.Root = root
	if opts.Backend == "" {
		opts.Backend = Backend(*testBackend)
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	w, err := newTreeWatcher(context.Background(), opts, cfg)
	if err != nil {
		t.Fatalf("New(%s): %v", root, err)
	}
	t.Cleanup(func() {
		if err := w.close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &rec{t: t, w: w, root: root}
}

// next returns the next slice, or false when Events is closed.
func (r *rec) next(deadline <-chan time.Time, desc string) ([]event.Event, bool) {
	r.t.Helper()
	select {
	case b, ok := <-r.w.events():
		if !ok {
			r.closed = true
			return nil, false
		}
		r.add(b)
		return b, true
	case <-deadline:
		r.t.Fatalf("timed out after %v waiting for %s; events so far:\n%s\nreader:\n%s", waitTimeout, desc, dump(r.all), readerStacks())
		return nil, false
	}
}

// add records a slice received now.
func (r *rec) add(b []event.Event) {
	r.batches = append(r.batches, b)
	r.all = append(r.all, b...)
	now := time.Now()
	for range b {
		r.at = append(r.at, now)
	}
}

// waitBatch returns the first slice after the last one it matched (read
// already or read now) for which pred holds.
func (r *rec) waitBatch(desc string, pred func([]event.Event) bool) []event.Event {
	r.t.Helper()
	deadline := time.After(waitTimeout)
	for {
		for ; r.bpos < len(r.batches); r.bpos++ {
			if b := r.batches[r.bpos]; pred(b) {
				r.bpos++
				return b
			}
		}
		if _, ok := r.next(deadline, desc); !ok {
			r.t.Fatalf("events closed (err %v) while waiting for %s; events so far:\n%s", r.w.err(), desc, dump(r.all))
		}
	}
}

// wait returns the first event after the last one it matched (read already
// or read now) that satisfies pred.
func (r *rec) wait(desc string, pred func(event.Event) bool) event.Event {
	r.t.Helper()
	deadline := time.After(waitTimeout)
	for {
		for ; r.pos < len(r.all); r.pos++ {
			if ev := r.all[r.pos]; pred(ev) {
				r.pos++
				return ev
			}
		}
		if _, ok := r.next(deadline, desc); !ok {
			r.t.Fatalf("events closed (err %v) while waiting for %s; events so far:\n%s", r.w.err(), desc, dump(r.all))
		}
	}
}

// waitAll reads until every path in want satisfies covered.
func (r *rec) waitAll(desc string, want []string, covered func(p string, all []event.Event) bool) {
	r.t.Helper()
	missing := func() []string {
		var m []string
		for _, p := range want {
			if !covered(p, r.all) {
				m = append(m, p)
			}
		}
		return m
	}
	deadline := time.After(waitTimeout)
	for len(missing()) > 0 {
		if _, ok := r.next(deadline, fmt.Sprintf("%s (missing %q)", desc, missing())); !ok {
			r.t.Fatalf("events closed (err %v) while waiting for %s", r.w.err(), desc)
		}
	}
}

// waitClosed reads until Events is closed.
func (r *rec) waitClosed() {
	r.t.Helper()
	deadline := time.After(waitTimeout)
	for !r.closed {
		r.next(deadline, "Events to be closed")
	}
}

// barrier creates a file in the root and waits for its event: everything
// the kernel queued before has then been handled. A root Rescan while
// waiting means the event may have been lost in an overflow: then it tries
// again with a new file.
func (r *rec) barrier() {
	r.t.Helper()
	deadline := time.After(waitTimeout)
	for {
		r.barriers++
		name := fmt.Sprintf(".barrier-%d", r.barriers)
		writeFile(r.t, filepath.Join(r.root, name), "")
		for lost := false; ; {
			for ; r.pos < len(r.all); r.pos++ {
				ev := r.all[r.pos]
				if ev.Path == name && ev.Op&event.Create != 0 {
					r.pos++
					return
				}
				lost = lost || (ev.Path == "" && ev.Op&event.Rescan != 0)
			}
			if lost {
				break
			}
			if _, ok := r.next(deadline, "barrier "+name); !ok {
				r.t.Fatalf("events closed (err %v) while waiting for barrier %s", r.w.err(), name)
			}
		}
	}
}

// waitWatches waits, barrier after barrier, until Watches() is want.
func (r *rec) waitWatches(want int) {
	r.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		r.barrier()
		got := r.w.watches()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("Watches() = %d, want %d", got, want)
		}
	}
}

// since returns the events seen after the first n.
func (r *rec) since(n int) []event.Event { return r.all[n:] }

func has(evs []event.Event, pred func(event.Event) bool) bool {
	for _, ev := range evs {
		if pred(ev) {
			return true
		}
	}
	return false
}

func is(path string, op event.Op, isDir bool) func(event.Event) bool {
	return func(ev event.Event) bool { return ev.Path == path && ev.Op&op == op && ev.IsDir == isDir }
}

// coveredBy tells whether p is reported itself (with one of ops) or lies
// below a directory reported with Rescan.
func coveredBy(ops event.Op) func(p string, all []event.Event) bool {
	return func(p string, all []event.Event) bool {
		for _, ev := range all {
			if ev.Path == p && ev.Op&ops != 0 {
				return true
			}
			if ev.Op&event.Rescan != 0 && (ev.Path == "" || strings.HasPrefix(p, ev.Path+"/")) {
				return true
			}
		}
		return false
	}
}

func dump(evs []event.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "  %q %v dir=%v mask=%#x\n", ev.Path, ev.Op, ev.IsDir, ev.Mask)
	}
	return b.String()
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mkdirAll(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

func rename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

// countDirs counts the directories below and including root, not following
// symlinks: what a watcher of root with no Walk must watch.
func countDirs(t *testing.T, root string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(root, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// readerStacks returns the stacks of the watcher reader goroutines.
func readerStacks() string {
	var out []string
	for _, g := range strings.Split(allStacks(), "\n\n") {
		if strings.Contains(g, readerCreator) {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

func allStacks() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

const readerCreator = "created by github.com/clsync-go/clsync/watcher.(*readerState).start"

// readerGoroutines counts the watcher reader goroutines alive, started or
// not (then their frame is a wrapper, hence the match on the creator).
func readerGoroutines() int {
	return strings.Count(allStacks(), readerCreator)
}

// queueSysctl is the file of backend b's max_queued_events, which it reads
// when an instance is created.
func queueSysctl(b Backend) string { return "/proc/sys/fs/" + string(b) + "/max_queued_events" }

// sysctlStepEnv is set by `make test-sysctl`, which runs the tests that
// change machine-wide sysctls alone, after every other test: elsewhere they
// skip, so that no other test (or process) starts with their values.
const sysctlStepEnv = "CLSYNC_TEST_SYSCTL"

// setSysctl writes value to the sysctl file p and restores the old value at
// cleanup; the returned function restores it earlier. It skips the test
// outside make's sysctl step and when p is not writable.
func setSysctl(t *testing.T, p, value string) (restore func()) {
	t.Helper()
	if os.Getenv(sysctlStepEnv) == "" {
		t.Skipf("changes %s machine-wide: run alone by make test-sysctl (%s=1)", p, sysctlStepEnv)
	}
	old, err := os.ReadFile(p)
	if err != nil {
		t.Skipf("cannot read %s: %v", p, err)
	}
	if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
		t.Skipf("cannot write %s: %v", p, err)
	}
	done := false
	restore = func() {
		if done {
			return
		}
		done = true
		if err := os.WriteFile(p, old, 0o644); err != nil {
			t.Errorf("restore %s: %v", p, err)
		}
	}
	t.Cleanup(restore)
	return restore
}
