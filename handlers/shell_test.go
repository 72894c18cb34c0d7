package handlers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clsync-go/clsync/event"
)

// listsSetup gives the setup a lists dir of its own (-L), to look into.
func listsSetup(t *testing.T, mode string, options map[string]string) *setup {
	t.Helper()
	s := newSetup(t, mode, options)
	s.cfg.ListsDir = t.TempDir()
	return s
}

// checkListArg asserts that arg is a list file in the lists dir, named like
// clsync's, and (unless -U) removed after the run.
func (s *setup) checkListArg(t *testing.T, arg, kind string) {
	t.Helper()
	if filepath.Dir(arg) != s.cfg.ListsDir || !strings.HasPrefix(filepath.Base(arg), ".clsync-"+kind+".") {
		t.Errorf("list file %s: not a .clsync-%s.* in %s", arg, kind, s.cfg.ListsDir)
	}
	if _, err := os.Stat(arg); !os.IsNotExist(err) && !s.cfg.KeepLists {
		t.Errorf("list file %s was not removed after the run: %v", arg, err)
	}
}

func TestShellRecordsTheList(t *testing.T) {
	s := listsSetup(t, "shell", nil)
	weirdTree(t, s)
	h := s.handler(t)
	got := s.sync(t, h, false, weirdItems...)
	if len(got) != 1 || len(got[0].Args) != 3 {
		t.Fatalf("runs: %s", runsString(got))
	}
	s.check(t, got, want{
		args: []string{"synclist", "lbl", got[0].Args[2]},
		lists: []string{strings.Join([]string{
			"sync lbl 256 %TYPE%",
			"sync lbl 266 -dash",
			"sync lbl 4 a b",
			"sync lbl 1073741952 d",
			"sync lbl 256 d/link",
			"sync lbl 1073742080 d/sub",
			"sync lbl 256 d/sub/f",
			"sync lbl 1073742336 gone",
			"sync lbl 1073742080 gone2",
		}, "\n") + "\n"},
	})
	s.checkListArg(t, got[0].Args[2], "list")
	// A line cannot hold a newline: that name is reported, not listed.
	if log := s.log.String(); !strings.Contains(log, "level=WARN") || !strings.Contains(log, `path="d/new\nline"`) {
		t.Errorf("no warning about the name with a newline in the log:\n%s", log)
	}
}

// The root is an empty path, as in clsync ("sync lbl 1073742080 ").
func TestShellInitialSync(t *testing.T) {
	s := listsSetup(t, "shell", nil)
	tree(t, s.src, "b/c", "a")
	h := s.handler(t)
	got := s.sync(t, h, true, event.Event{Path: "", Op: event.Rescan, IsDir: true})
	if len(got) != 1 || len(got[0].Args) != 3 {
		t.Fatalf("runs: %s", runsString(got))
	}
	s.check(t, got, want{
		args:  []string{"synclist", "lbl", got[0].Args[2]},
		lists: []string{"sync lbl 1073742080 \nsync lbl 256 a\nsync lbl 1073742080 b\nsync lbl 256 b/c\n"},
	})
}

func TestShellSimplify(t *testing.T) {
	s := listsSetup(t, "shell", map[string]string{"synclist-simplify": "1"})
	s.cfg.KeepLists = true
	tree(t, s.src, "b/c", "a")
	h := s.handler(t)
	got := s.sync(t, h, false, event.Event{Path: "a", Op: event.Modify, Mask: 0x2}, event.Event{Path: "b", Op: event.Create | event.Rescan, IsDir: true})
	if len(got) != 1 || len(got[0].Args) != 3 {
		t.Fatalf("runs: %s", runsString(got))
	}
	s.check(t, got, want{args: []string{"synclist", "lbl", got[0].Args[2]}, lists: []string{"a\nb\nb/c\n"}})
	// -U keeps the list.
	s.checkListArg(t, got[0].Args[2], "list")
	if _, err := os.Stat(got[0].Args[2]); err != nil {
		t.Errorf("-U: %v", err)
	}
}

// --have-recursive-sync: the initial sync and a new directory are one
// "initialsync <label> <absolute dir>" run each, before the batch's list.
func TestShellHaveRecursiveSync(t *testing.T) {
	s := listsSetup(t, "shell", map[string]string{"have-recursive-sync": "1"})
	weirdTree(t, s)
	h := s.handler(t)
	s.check(t, s.sync(t, h, true, event.Event{Path: "", Op: event.Rescan, IsDir: true}),
		want{args: []string{"initialsync", "lbl", s.src}})

	got := s.sync(t, h, false, weirdItems...)
	if len(got) != 2 || len(got[1].Args) != 3 {
		t.Fatalf("runs: %s", runsString(got))
	}
	s.check(t, got,
		want{args: []string{"initialsync", "lbl", filepath.Join(s.src, "d")}},
		want{args: []string{"synclist", "lbl", got[1].Args[2]}, lists: []string{
			"sync lbl 256 %TYPE%\nsync lbl 266 -dash\nsync lbl 4 a b\nsync lbl 1073742336 gone\nsync lbl 1073742080 gone2\n"}},
	)
}

// One template for both kinds of run, as clsync allows: %TYPE% tells them
// apart, the list path is empty in an initialsync run, and %INCLUDE-LIST%
// gives the paths as arguments (a newline in a name is no problem there).
func TestShellOneTemplateForBoth(t *testing.T) {
	s := listsSetup(t, "shell", map[string]string{"have-recursive-sync": "1"})
	s.cfg.Template = []string{"%TYPE%", "%label%", "%INCLUDE-LIST-PATH%", "%INCLUDE-LIST%"}
	weirdTree(t, s)
	tree(t, s.src, "nl\nname")
	h := s.handler(t)
	got := s.sync(t, h, false, append([]event.Event{{Path: "-dash", Op: event.Modify}, {Path: "d", Op: event.Create | event.Rescan, IsDir: true}},
		event.Event{Path: "nl\nname", Op: event.Create})...)
	if len(got) != 2 || len(got[1].Args) != 5 {
		t.Fatalf("runs: %s", runsString(got))
	}
	s.check(t, got,
		want{args: []string{"initialsync", "lbl", "", filepath.Join(s.src, "d")}},
		want{args: []string{"synclist", "lbl", got[1].Args[2], "-dash", "nl\nname"}, lists: []string{"sync lbl 2 -dash\n"}},
	)
}

// Without -L the lists go to a private dir, removed at Close.
func TestShellPrivateListsDir(t *testing.T) {
	s := newSetup(t, "shell", nil)
	h, err := New(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	tree(t, s.src, "a")
	got := s.sync(t, h, false, event.Event{Path: "a", Op: event.Create})
	if len(got) != 1 || len(got[0].Args) != 3 {
		t.Fatalf("runs: %s", runsString(got))
	}
	dir := filepath.Dir(got[0].Args[2])
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("private lists dir %s: %v %v", dir, fi.Mode(), err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("private lists dir %s left behind: %v", dir, err)
	}
}

// A batch with nothing to list (all excluded, or only initialsync runs)
// runs no synclist.
func TestShellEmptyBatch(t *testing.T) {
	s := listsSetup(t, "shell", map[string]string{"have-recursive-sync": "1"})
	tree(t, s.src, "d/")
	h := s.handler(t)
	s.check(t, s.sync(t, h, false, event.Event{Path: "d", Op: event.Create | event.Rescan, IsDir: true}),
		want{args: []string{"initialsync", "lbl", filepath.Join(s.src, "d")}})
	s.check(t, s.sync(t, h, false))
}
