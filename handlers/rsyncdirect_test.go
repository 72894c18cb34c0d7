package handlers

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clsync-go/clsync/event"
	"github.com/clsync-go/clsync/internal/treecmp"
	"github.com/clsync-go/clsync/rules"
)

func rsyncPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("rsync")
	if err != nil {
		t.Skip("rsync is not installed (make deps installs it)")
	}
	return p
}

type fixture struct {
	src, dst string
	h        Handler
}

func newFixture(t *testing.T, mutate func(*Config)) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{src: filepath.Join(dir, "src"), dst: filepath.Join(dir, "dst")}
	for _, d := range []string{f.src, f.dst} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{Mode: "rsyncdirect", Program: rsyncPath(t), WatchDir: f.src, Destination: f.dst, Label: "test", IncLimit: 20000}
	if mutate != nil {
		mutate(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	f.h = h
	return f
}

func (f *fixture) write(t *testing.T, rel, content string) {
	t.Helper()
	p := filepath.Join(f.src, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) sync(t *testing.T, items ...event.Event) {
	t.Helper()
	if err := f.h.Sync(context.Background(), items, false); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) full(t *testing.T) {
	t.Helper()
	if err := f.h.Sync(context.Background(), []event.Event{{Path: "", Op: event.Rescan, IsDir: true}}, true); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) assertMirror(t *testing.T) {
	t.Helper()
	diffs, err := treecmp.Diff(f.src, f.dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Fatalf("destination differs from source:\n%s", strings.Join(diffs, "\n"))
	}
}

func TestRsyncDirectInitialSync(t *testing.T) {
	f := newFixture(t, nil)
	f.write(t, "a/b/c.txt", "c")
	f.write(t, "top", "t")
	f.full(t)
	f.assertMirror(t)
}

// A directory renamed away (or removed) must leave the mirror with all its
// content: clsync 0.4.5 lists only "/old" and rsync keeps the non-empty dir.
func TestRsyncDirectRenamedAwayDirectoryLeaves(t *testing.T) {
	f := newFixture(t, nil)
	f.write(t, "old/x/deep.txt", "d")
	f.write(t, "old/file", "f")
	f.full(t)
	if err := os.Rename(filepath.Join(f.src, "old"), filepath.Join(f.src, "new")); err != nil {
		t.Fatal(err)
	}
	f.sync(t,
		event.Event{Path: "new", Op: event.Create | event.Rescan, IsDir: true},
		event.Event{Path: "old", Op: event.Remove, IsDir: true},
	)
	f.assertMirror(t)

	if err := os.RemoveAll(filepath.Join(f.src, "new")); err != nil {
		t.Fatal(err)
	}
	f.sync(t, event.Event{Path: "new", Op: event.Remove, IsDir: true})
	f.assertMirror(t)
}

func TestRsyncDirectTypeChange(t *testing.T) {
	f := newFixture(t, nil)
	f.write(t, "p/inner", "i")
	f.full(t)
	if err := os.RemoveAll(filepath.Join(f.src, "p")); err != nil {
		t.Fatal(err)
	}
	f.write(t, "p", "now a file")
	f.sync(t, event.Event{Path: "p", Op: event.Remove | event.Create, IsDir: false})
	f.assertMirror(t)
}

// Names are bytes: wildcards, backslashes, newlines, leading dashes,
// trailing blanks and non-UTF-8 must all reach the mirror, each synced by
// its own item (not by a recursive sync of the root).
func TestRsyncDirectWeirdNames(t *testing.T) {
	names := []string{"a*b", "q?", "br[ack]et", `back\slash`, `both\*`, "new\nline", "cr\rx", "-dash", "--delete", " lead", "trail ", "\xff\xfe", "#hash", ";semi", "+ plus", "- minus", "***"}
	f := newFixture(t, nil)
	f.write(t, "dir/keep", "k")
	f.full(t)
	var items []event.Event
	for i, n := range names {
		f.write(t, "dir/"+n, strings.Repeat("x", i+1))
		items = append(items, event.Event{Path: "dir/" + n, Op: event.Create | event.Modify})
	}
	f.sync(t, items...)
	f.assertMirror(t)
	for _, n := range names {
		if err := os.Remove(filepath.Join(f.src, "dir", n)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range items {
		items[i].Op = event.Remove
	}
	f.sync(t, items...)
	f.assertMirror(t)
}

// Only the listed paths are synced: an unlisted change stays behind until
// its own event, which shows the lists restrict rsync.
func TestRsyncDirectSyncsOnlyListedPaths(t *testing.T) {
	f := newFixture(t, nil)
	f.full(t)
	f.write(t, "listed", "1")
	f.write(t, "unlisted", "2")
	f.sync(t, event.Event{Path: "listed", Op: event.Create})
	if _, err := os.Stat(filepath.Join(f.dst, "listed")); err != nil {
		t.Fatalf("listed file not synced: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.dst, "unlisted")); err == nil {
		t.Fatal("unlisted file was synced: the include list is not applied")
	}
}

func TestRsyncDirectIncLimitSplits(t *testing.T) {
	var runs int
	f := newFixture(t, func(c *Config) { c.IncLimit = 3 })
	f.full(t)
	var items []event.Event
	for i := 0; i < 10; i++ {
		n := filepath.Join("d", string(rune('a'+i)), "f")
		f.write(t, n, n)
		items = append(items, event.Event{Path: n, Op: event.Create})
	}
	parts, err := buildRsyncLists(f.src, nil, 3, asPlan(items))
	if err != nil {
		t.Fatal(err)
	}
	runs = len(parts)
	if runs < 3 {
		t.Fatalf("10 items with parents at limit 3 gave %d parts", runs)
	}
	f.sync(t, items...)
	f.assertMirror(t)
}

func TestRsyncDirectRulesExclude(t *testing.T) {
	set, err := rules.Parse(strings.NewReader("-d^tmp$\n-f\\.swp$\n+*\n"), "test")
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(c *Config) { c.Filter = set })
	f.write(t, "tmp/junk", "j")
	f.write(t, "a/x.swp", "s")
	f.write(t, "a/x", "x")
	f.full(t)
	for _, p := range []string{"tmp", "a/x.swp"} {
		if _, err := os.Lstat(filepath.Join(f.dst, p)); err == nil {
			t.Errorf("%s synced although the rules exclude it", p)
		}
	}
	if _, err := os.Stat(filepath.Join(f.dst, "a/x")); err != nil {
		t.Errorf("a/x not synced: %v", err)
	}
}

func TestRsyncDirectExitCodes(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "handler")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit $CODE\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		code   string
		ignore map[int]bool
		fails  bool
	}{
		{"0", nil, false},
		{"23", nil, true},
		{"24", nil, false}, // vanished files: ignored in rsync modes
		{"23", map[int]bool{23: true}, false},
	} {
		h, err := New(Config{Mode: "rsyncdirect", Program: script, WatchDir: dir, Destination: dir, Ignore: tc.ignore,
			Env: func() []string { return []string{"CODE=" + tc.code} }})
		if err != nil {
			t.Fatal(err)
		}
		err = h.Sync(context.Background(), []event.Event{{Path: "x", Op: event.Create}}, false)
		h.Close()
		if (err != nil) != tc.fails {
			t.Errorf("exit %s ignore %v: err = %v, want failure %v", tc.code, tc.ignore, err, tc.fails)
		}
	}
}

func TestPattern(t *testing.T) {
	for _, tc := range []struct{ path, suffix, want string }{
		{"/plain", "", "/plain"},
		{`/back\slash`, "", `/back\slash`},
		{`/back\slash`, "/***", `/back\\slash/***`},
		{"/a*b", "", `/a\*b`},
		{"/br]", "", "/br]"},
		{"/n\nl", "", "/n?l"},
		{"/d", "/", "/d/"},
	} {
		if got := pattern(tc.path, tc.suffix); got != tc.want {
			t.Errorf("pattern(%q, %q) = %q, want %q", tc.path, tc.suffix, got, tc.want)
		}
	}
}

// A file rewritten with the same size and the same mtime second must still
// reach the mirror: rsync's quick check alone would skip it.
func TestRsyncDirectSameSizeSameSecond(t *testing.T) {
	f := newFixture(t, nil)
	f.write(t, "msg", "one\n")
	f.sync(t, event.Event{Path: "msg", Op: event.Create})
	p := filepath.Join(f.src, "msg")
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	f.write(t, "msg", "two\n")
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	f.sync(t, event.Event{Path: "msg", Op: event.Modify})
	f.assertMirror(t)
}

// rm -rf of a tree can give removals of deep paths in one batch and of the
// top directory in the next: the first batch must not make rsync try to
// delete the half-listed parents, and the second must finish the job.
func TestRsyncDirectRemovalsBeforeTheirParent(t *testing.T) {
	f := newFixture(t, nil)
	f.write(t, "top/a/x", "x")
	f.write(t, "top/b/y", "y")
	f.full(t)
	if err := os.RemoveAll(filepath.Join(f.src, "top")); err != nil {
		t.Fatal(err)
	}
	parts, err := buildRsyncLists(f.src, nil, 0, asPlan([]event.Event{{Path: "top/a/x", Op: event.Remove}, {Path: "top/a", Op: event.Remove, IsDir: true}}))
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 0 {
		t.Errorf("items below a removed directory were listed: %+v", parts)
	}
	f.sync(t, event.Event{Path: "top/a/x", Op: event.Remove}, event.Event{Path: "top/a", Op: event.Remove, IsDir: true})
	f.sync(t, event.Event{Path: "top", Op: event.Remove, IsDir: true})
	f.assertMirror(t)
}

// -F: the initial sync ignores the rules; later syncs follow them.
func TestRsyncDirectFullInitialSync(t *testing.T) {
	set, err := rules.Parse(strings.NewReader("-f\\.log$\n+*\n"), "test")
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(c *Config) { c.Filter = set; c.FullInitialSync = true })
	f.write(t, "old.log", "o")
	f.full(t)
	if _, err := os.Stat(filepath.Join(f.dst, "old.log")); err != nil {
		t.Fatalf("-F initial sync skipped a file the rules exclude: %v", err)
	}
	f.write(t, "new.log", "n")
	f.sync(t, event.Event{Path: "new.log", Op: event.Create})
	if _, err := os.Stat(filepath.Join(f.dst, "new.log")); err == nil {
		t.Fatal("a later sync ignored the rules")
	}
}

// What rsync receives in rsyncdirect mode, recorded: for the initial sync,
// clsync's argv (plus --numeric-ids, see rsyncArgs) with its lists; then
// --files-from lists (planNamed): here the root one level deep for the
// removal, then the new file with --ignore-times. Always its environment
// and the watch dir as cwd.
func TestRsyncDirectRecorded(t *testing.T) {
	s := newSetup(t, "rsyncdirect", nil)
	h := s.handler(t)
	tree(t, s.src, "old/", "dir/new")
	got := s.sync(t, h, true, event.Event{Path: "", Op: event.Rescan, IsDir: true})
	if len(got) != 1 || len(got[0].Args) != 10 {
		t.Fatalf("runs: %s", runsString(got))
	}
	s.check(t, got, want{
		args:  []string{"-aH", "--numeric-ids", "--delete", "--exclude-from", got[0].Args[4], "--include-from", got[0].Args[6], "--exclude=*", s.src + "/", s.dst + "/"},
		lists: []string{"", "/***\n"},
	})
	got = s.sync(t, h, false, event.Event{Path: "dir/new", Op: event.Create}, event.Event{Path: "old", Op: event.Remove, IsDir: true})
	if len(got) != 2 || len(got[0].Args) != 13 || len(got[1].Args) != 12 {
		t.Fatalf("runs: %s", runsString(got))
	}
	s.check(t, got, want{
		args: []string{"-aH", "--modify-window=-1", "--numeric-ids", "-d", "--delete", "--from0", "--files-from", got[0].Args[7],
			"--ignore-missing-args", "--exclude-from", got[0].Args[10], s.src + "/", s.dst + "/"},
		lists: []string{".\n", ""},
	}, want{
		args: []string{"-aH", "--ignore-times", "--numeric-ids", "--force", "--from0", "--files-from", got[1].Args[6],
			"--ignore-missing-args", "--exclude-from", got[1].Args[9], s.src + "/", s.dst + "/"},
		lists: []string{"dir/new\n", ""},
	})
}
