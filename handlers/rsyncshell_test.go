package handlers

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clsync-go/clsync/event"
	"github.com/clsync-go/clsync/internal/treecmp"
)

// A directory renamed within the tree: both names are listed recursively,
// so the old one leaves the mirror with its content.
func TestRsyncShellRecordsTheLists(t *testing.T) {
	s := listsSetup(t, "rsyncshell", nil)
	tree(t, s.src, "new/x/deep", "a b", "-dash")
	h := s.handler(t)
	got := s.sync(t, h, false,
		event.Event{Path: "-dash", Op: event.Create},
		event.Event{Path: "a b", Op: event.Modify},
		event.Event{Path: "new", Op: event.Create | event.Rescan, IsDir: true},
		event.Event{Path: "old", Op: event.Remove, IsDir: true},
	)
	if len(got) != 1 || len(got[0].Args) != 4 {
		t.Fatalf("runs: %s", runsString(got))
	}
	s.check(t, got, want{
		args:  []string{"rsynclist", "lbl", got[0].Args[2], got[0].Args[3]},
		lists: []string{"/-dash\n/a b\n/new\n/new/***\n/old\n/old/***\n", ""},
	})
	s.checkListArg(t, got[0].Args[2], "list")
	s.checkListArg(t, got[0].Args[3], "exclist")
}

// --rsync-prefer-include drops the exclude list; %RSYNC-ARGS% and %TYPE%
// are clsync's (with --ignore-times for event syncs, as in rsyncdirect).
func TestRsyncShellPreferIncludeAndVariables(t *testing.T) {
	s := listsSetup(t, "rsyncshell", nil)
	s.cfg.PreferInclude = true
	h := s.handler(t)
	tree(t, s.src, "a")
	got := s.sync(t, h, true, event.Event{Path: "", Op: event.Rescan, IsDir: true})
	if len(got) != 1 || len(got[0].Args) != 3 {
		t.Fatalf("runs: %s", runsString(got))
	}
	s.check(t, got, want{args: []string{"rsynclist", "lbl", got[0].Args[2]}, lists: []string{"/***\n"}})

	s.cfg.Template = []string{"%TYPE%", "%RSYNC-ARGS%", "%watch-dir%/", "%destination-dir%/"}
	s.cfg.PreferInclude = false
	h = s.handler(t)
	got = s.sync(t, h, false, event.Event{Path: "a", Op: event.Modify})
	if len(got) != 1 || len(got[0].Args) != 12 {
		t.Fatalf("runs: %s", runsString(got))
	}
	exc, inc := got[0].Args[6], got[0].Args[8]
	s.check(t, got, want{
		args:  []string{"rsynclist", "-aH", "--ignore-times", "--numeric-ids", "--delete", "--exclude-from", exc, "--include-from", inc, "--exclude=*", s.src + "/", s.dst + "/"},
		lists: []string{"", "/a\n"},
	})
}

// Exit code 24 is ignored only where clsync runs rsync itself.
func TestRsyncShellExitCode24IsAnError(t *testing.T) {
	s := listsSetup(t, "rsyncshell", nil)
	rec := newRecorder(t, "exit 24")
	s.rec, s.cfg.Program = rec, rec.script
	h := s.handler(t)
	err := h.Sync(context.Background(), []event.Event{{Path: "a", Op: event.Create}}, false)
	var exit *ExitError
	if !errors.As(err, &exit) || exit.Code != 24 {
		t.Fatalf("err = %v, want exit code 24", err)
	}
}

// A handler that runs rsync with the lists keeps the mirror equal to the
// source through a rename and a removal of directories.
func TestRsyncShellMirrorsWithRsync(t *testing.T) {
	rsyncPath(t)
	s := listsSetup(t, "rsyncshell", nil)
	rec := newRecorder(t, `rsync -aH --delete-before --exclude-from "$4" --include-from "$3" --exclude='*' "$(pwd)/" "`+s.dst+`/"`)
	s.rec, s.cfg.Program = rec, rec.script
	h := s.handler(t)
	tree(t, s.src, "old/x/deep", "old/file", "keep")
	s.sync(t, h, true, event.Event{Path: "", Op: event.Rescan, IsDir: true})
	if err := os.Rename(filepath.Join(s.src, "old"), filepath.Join(s.src, "new")); err != nil {
		t.Fatal(err)
	}
	s.sync(t, h, false, event.Event{Path: "new", Op: event.Create | event.Rescan, IsDir: true, Mask: 0x40000080},
		event.Event{Path: "old", Op: event.Remove, IsDir: true, Mask: 0x40000040})
	assertSame(t, s.src, s.dst)
	if err := os.RemoveAll(filepath.Join(s.src, "new")); err != nil {
		t.Fatal(err)
	}
	s.sync(t, h, false, event.Event{Path: "new", Op: event.Remove, IsDir: true})
	assertSame(t, s.src, s.dst)
}

func assertSame(t *testing.T, a, b string) {
	t.Helper()
	diffs, err := treecmp.Diff(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Fatalf("%s and %s differ:\n%s", a, b, strings.Join(diffs, "\n"))
	}
}
