package handlers

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clsync-go/clsync/event"
)

func TestDirectRecordsOneRunPerBatch(t *testing.T) {
	s := newSetup(t, "direct", nil)
	weirdTree(t, s)
	h := s.handler(t)
	s.check(t, s.sync(t, h, false, weirdItems...),
		want{args: []string{"%TYPE%", "-dash", "a b", "d", "d/link", "d/new\nline", "d/sub", "d/sub/f", "gone", "gone2", s.dst + "/"}})
}

// The root is "." (cp would make nothing of an empty argument).
func TestDirectInitialSync(t *testing.T) {
	s := newSetup(t, "direct", nil)
	tree(t, s.src, "b/c", "a")
	h := s.handler(t)
	s.check(t, s.sync(t, h, true, event.Event{Path: "", Op: event.Rescan, IsDir: true}),
		want{args: []string{".", "a", "b", "b/c", s.dst + "/"}})
}

// clsync 0.4.5 makes "%destination-dir%/" of an unset -D into "/", and cp
// copies into the root directory.
func TestDirectRefusesMissingDestination(t *testing.T) {
	s := newSetup(t, "direct", nil)
	s.cfg.Destination = ""
	_, err := New(s.cfg)
	if err == nil || !strings.Contains(err.Error(), "--destination-dir is not set") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v, want one line about --destination-dir", err)
	}
	s.cfg.Template = []string{"%INCLUDE-LIST%", "/backup/"}
	h := s.handler(t)
	s.check(t, s.sync(t, h, false, event.Event{Path: "x", Op: event.Create}), want{args: []string{"x", "/backup/"}})
}

// Many paths are split over several runs that each stay within the argv
// limit, each one complete with the destination.
func TestDirectSplitsLongArgv(t *testing.T) {
	s := newSetup(t, "direct", nil)
	h := s.handler(t)
	var items []event.Event
	var names []string
	for i := 0; i < 3000; i++ {
		n := fmt.Sprintf("%040d", i)
		names = append(names, n)
		items = append(items, event.Event{Path: n, Op: event.Modify})
	}
	runs := s.sync(t, h, false, items...)
	if len(runs) < 2 {
		t.Fatalf("%d runs for %d bytes of paths", len(runs), 3000*49)
	}
	var got []string
	for _, r := range runs {
		size := 0
		for _, a := range r.Args {
			size += len(a) + 9
		}
		if size > argvBudget+len(s.dst)+10 {
			t.Errorf("a run has %d bytes of arguments", size)
		}
		if r.Args[len(r.Args)-1] != s.dst+"/" {
			t.Errorf("run does not end with the destination: %q", r.Args[len(r.Args)-1])
		}
		got = append(got, r.Args[:len(r.Args)-1]...)
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Error("the runs together do not pass every path once, in order")
	}
}

// A direct template may ask for the list file too: clsync's shell format.
func TestDirectListFile(t *testing.T) {
	s := newSetup(t, "direct", nil)
	s.cfg.Template = []string{"%TYPE%", "%INCLUDE-LIST-PATH%", "%EXCLUDE-LIST-PATH%", "%EVENT-MASK%", "%destination-dir%"}
	tree(t, s.src, "a")
	h := s.handler(t)
	got := s.sync(t, h, true, event.Event{Path: "", Op: event.Rescan, IsDir: true})
	if len(got) != 1 || len(got[0].Args) != 5 {
		t.Fatalf("runs: %s", runsString(got))
	}
	s.check(t, got, want{
		args:  []string{"synclist", got[0].Args[1], "", "", s.dst},
		lists: []string{"sync lbl 1073742080 .\nsync lbl 256 a\n"},
	})
	if !strings.HasPrefix(filepath.Base(got[0].Args[1]), ".clsync-list.") {
		t.Errorf("list file %s is not named like clsync's", got[0].Args[1])
	}
}
