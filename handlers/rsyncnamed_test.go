package handlers

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clsync-go/clsync/event"
	"github.com/clsync-go/clsync/rules"
)

func countTree(root string) func(int) bool {
	return func(limit int) bool { return newTreeSizes(root).atMost("", limit) }
}

func namedString(runs []namedRun) []string {
	var s []string
	for _, r := range runs {
		s = append(s, fmt.Sprintf("%s quick=%t %q exclude=%q", r.shape, r.quick, r.names, r.exclude))
	}
	return s
}

// Each kind of item goes to its shape of run, in order: removals and dense
// directories one level deep, rescans, changed objects, new trees; and the
// mirror follows.
func TestNamedPlanShapes(t *testing.T) {
	f := newFixture(t, nil)
	for i := range 100 {
		f.write(t, fmt.Sprintf("quiet/q%03d", i), "q")
	}
	f.write(t, "gone/x", "x")
	f.write(t, "rescanned/old", "o")
	f.write(t, "dense/keep", "k")
	f.write(t, "a/b/stale", "s")
	f.full(t)
	if err := os.RemoveAll(filepath.Join(f.src, "gone")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(f.src, "a/b/stale")); err != nil {
		t.Fatal(err)
	}
	items := []event.Event{
		{Path: "gone", Op: event.Remove, IsDir: true},
		{Path: "a/b/stale", Op: event.Remove},
		{Path: "rescanned", Op: event.Rescan, IsDir: true},
		{Path: "new", Op: event.Create | event.Rescan, IsDir: true},
		{Path: "a/b/changed", Op: event.Create | event.Modify},
		{Path: "", Op: event.Attrib, IsDir: true},
	}
	f.write(t, "rescanned/more", "m")
	f.write(t, "new/deep/file", "d")
	f.write(t, "a/b/changed", "c")
	for i := range shallowMin {
		rel := fmt.Sprintf("dense/f%02d", i)
		f.write(t, rel, rel)
		items = append(items, event.Event{Path: rel, Op: event.Create | event.Modify})
	}
	runs, err := planNamed(f.src, nil, items, 0, countTree(f.src))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`dirs quick=true ["." "a/b/." "dense/."] exclude=[]`,
		`trees quick=true ["rescanned/"] exclude=[]`,
		`files quick=false ["a/b/changed"] exclude=[]`,
		`trees quick=false ["new/"] exclude=[]`,
	}
	if got := namedString(runs); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	f.sync(t, items...)
	f.assertMirror(t)
}

// The rules hold in every shape: a directory synced one level deep for a
// removal does not bring what they exclude, nor does a new tree.
func TestNamedPlanRules(t *testing.T) {
	set, err := rules.Parse(strings.NewReader("-d^new/tmp$\n-f\\.swp$\n+*\n"), "test")
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(c *Config) { c.Filter = set })
	f.write(t, "a/f", "f")
	f.full(t)
	f.write(t, "a/x.swp", "s")
	f.write(t, "new/tmp/junk", "j")
	f.write(t, "new/keep", "k")
	f.write(t, "new/y.swp", "s")
	if err := os.Remove(filepath.Join(f.src, "a/f")); err != nil {
		t.Fatal(err)
	}
	f.sync(t, event.Event{Path: "a/f", Op: event.Remove}, event.Event{Path: "new", Op: event.Create | event.Rescan, IsDir: true})
	for _, p := range []string{"a/x.swp", "a/f", "new/tmp", "new/y.swp"} {
		if _, err := os.Lstat(filepath.Join(f.dst, p)); err == nil {
			t.Errorf("%s is in the mirror", p)
		}
	}
	if _, err := os.Stat(filepath.Join(f.dst, "new/keep")); err != nil {
		t.Errorf("new/keep not synced: %v", err)
	}
}

// A batch naming most of a small tree syncs the whole tree in one quick
// run: the list would cost rsync more than visiting everything.
func TestNamedPlanWholeTree(t *testing.T) {
	f := newFixture(t, nil)
	var items []event.Event
	for i := range 2 * denseMin {
		rel := fmt.Sprintf("d%02d/f", i)
		f.write(t, rel, rel)
		items = append(items, event.Event{Path: rel, Op: event.Create})
	}
	runs, err := planNamed(f.src, nil, items, 0, countTree(f.src))
	if err != nil {
		t.Fatal(err)
	}
	if got := namedString(runs); len(got) != 1 || got[0] != `trees quick=true ["."] exclude=[]` {
		t.Fatalf("plan: %q", got)
	}
	f.sync(t, items...)
	f.assertMirror(t)
}

// --rsync-inclimit cuts a run's names into runs of at most that many.
func TestNamedPlanLimit(t *testing.T) {
	f := newFixture(t, nil)
	var items []event.Event
	for i := range 10 {
		rel := fmt.Sprintf("d%d/f", i)
		f.write(t, rel, rel)
		items = append(items, event.Event{Path: rel, Op: event.Create})
	}
	runs, err := planNamed(f.src, nil, items, 3, countTree(f.src))
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 4 || len(runs[0].names) != 3 || len(runs[3].names) != 1 {
		t.Fatalf("plan: %q", namedString(runs))
	}
}
