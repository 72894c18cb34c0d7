package handlers

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clsync-go/clsync/event"
	"github.com/clsync-go/clsync/rules"
)

// weirdTree is a watch dir with names that must reach a handler intact
// (spaces, a leading dash, a newline, clsync's own variable syntax) and a
// symlink to a directory outside the tree, which no walk may follow.
func weirdTree(t *testing.T, s *setup) {
	t.Helper()
	outside := t.TempDir()
	tree(t, outside, "o")
	tree(t, s.src, "%TYPE%", "-dash", "a b", "d/new\nline", "d/sub/f", "d/link -> "+outside)
}

// weirdItems is a batch over weirdTree, sorted by path as batches are: a
// kernel create, a merged create+write, a synthetic attrib, a directory
// moved in (a Rescan: its content is unknown), a removed directory and a
// rescanned directory that is gone already.
var weirdItems = []event.Event{
	{Path: "%TYPE%", Op: event.Create, Mask: 0x100},
	{Path: "-dash", Op: event.Create | event.Modify, Mask: 0x10a},
	{Path: "a b", Op: event.Attrib},
	{Path: "d", Op: event.Create | event.Rescan, IsDir: true, Mask: 0x40000080},
	{Path: "gone", Op: event.Remove, IsDir: true, Mask: 0x40000200},
	{Path: "gone2", Op: event.Rescan, IsDir: true},
}

func TestSimpleRecordsOneRunPerObject(t *testing.T) {
	s := newSetup(t, "simple", nil)
	weirdTree(t, s)
	h := s.handler(t)
	p := func(rel string) string { return filepath.Join(s.src, rel) }
	s.check(t, s.sync(t, h, false, weirdItems...),
		want{args: []string{"sync", "lbl", "256", p("%TYPE%")}},
		want{args: []string{"sync", "lbl", "266", p("-dash")}},
		want{args: []string{"sync", "lbl", "4", p("a b")}},
		// The moved-in directory keeps the kernel's mask (IN_MOVED_TO|
		// IN_ISDIR); what the walk finds is reported as created. The
		// symlink is one object, never followed.
		want{args: []string{"sync", "lbl", "1073741952", p("d")}},
		want{args: []string{"sync", "lbl", "256", p("d/link")}},
		want{args: []string{"sync", "lbl", "256", p("d/new\nline")}},
		want{args: []string{"sync", "lbl", "1073742080", p("d/sub")}},
		want{args: []string{"sync", "lbl", "256", p("d/sub/f")}},
		want{args: []string{"sync", "lbl", "1073742336", p("gone")}},
		want{args: []string{"sync", "lbl", "1073742080", p("gone2")}},
	)
}

func TestSimpleInitialSyncWalksTheTree(t *testing.T) {
	s := newSetup(t, "simple", nil)
	tree(t, s.src, "b/c", "a")
	h := s.handler(t)
	s.check(t, s.sync(t, h, true, event.Event{Path: "", Op: event.Rescan, IsDir: true}),
		want{args: []string{"sync", "lbl", "1073742080", s.src}},
		want{args: []string{"sync", "lbl", "256", filepath.Join(s.src, "a")}},
		want{args: []string{"sync", "lbl", "1073742080", filepath.Join(s.src, "b")}},
		want{args: []string{"sync", "lbl", "256", filepath.Join(s.src, "b/c")}},
	)
}

func TestSimpleRules(t *testing.T) {
	set, err := rules.Parse(strings.NewReader("-d^d/sub$\n-f^-dash$\n+*\n"), "test")
	if err != nil {
		t.Fatal(err)
	}
	s := newSetup(t, "simple", nil)
	s.cfg.Filter = set
	weirdTree(t, s)
	h := s.handler(t)
	got := s.sync(t, h, false, weirdItems[1], weirdItems[3])
	s.check(t, got,
		want{args: []string{"sync", "lbl", "1073741952", filepath.Join(s.src, "d")}},
		want{args: []string{"sync", "lbl", "256", filepath.Join(s.src, "d/link")}},
		want{args: []string{"sync", "lbl", "256", filepath.Join(s.src, "d/new\nline")}},
	)

	// -F: the initial sync ignores the rules.
	s.cfg.FullInitialSync = true
	h = s.handler(t)
	if n := len(s.sync(t, h, true, event.Event{Path: "", Op: event.Rescan, IsDir: true})); n != 9 {
		t.Errorf("full initial sync made %d runs, want 9 (the root and 8 objects)", n)
	}
}

// --have-recursive-sync: a rescanned directory is one "initialsync" run
// with the "---" template; %INCLUDE-LIST% is its absolute path.
func TestSimpleHaveRecursiveSync(t *testing.T) {
	s := newSetup(t, "simple", map[string]string{"have-recursive-sync": ""})
	s.cfg.InitTemplate = []string{"%TYPE%", "%label%", "%INCLUDE-LIST%", "%EVENT-MASK%"}
	weirdTree(t, s)
	h := s.handler(t)
	s.check(t, s.sync(t, h, false, weirdItems[2:4]...),
		want{args: []string{"sync", "lbl", "4", filepath.Join(s.src, "a b")}},
		want{args: []string{"initialsync", "lbl", filepath.Join(s.src, "d"), "1073741952"}},
	)
}

// A failing run stops the batch: the caller retries it whole.
func TestSimpleStopsAtFailure(t *testing.T) {
	s := newSetup(t, "simple", nil)
	rec := newRecorder(t, `case "$4" in */a) exit 3;; esac`)
	s.rec, s.cfg.Program = rec, rec.script
	tree(t, s.src, "a", "b")
	h := s.handler(t)
	err := h.Sync(context.Background(), []event.Event{{Path: "a", Op: event.Create}, {Path: "b", Op: event.Create}}, false)
	var exit *ExitError
	if !errors.As(err, &exit) || exit.Code != 3 {
		t.Fatalf("err = %v, want exit code 3", err)
	}
	if n := len(rec.runs(t)); n != 1 {
		t.Errorf("%d runs after a failure, want 1", n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.Sync(ctx, []event.Event{{Path: "b", Op: event.Create}}, false); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}
