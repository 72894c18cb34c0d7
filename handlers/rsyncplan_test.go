package handlers

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clsync-go/clsync/event"
	"github.com/clsync-go/clsync/rules"
)

// planString renders runs as "exact|quick: include lines -exclude lines".
func planString(t *testing.T, root string, filter Filter, runs []rsyncRun) []string {
	t.Helper()
	var out []string
	for _, r := range runs {
		parts, err := buildRsyncLists(root, filter, 0, r.items)
		if err != nil {
			t.Fatal(err)
		}
		kind := "exact"
		if r.quick {
			kind = "quick"
		}
		for _, p := range parts {
			out = append(out, kind+": "+strings.Join(p.include, " ")+" -"+strings.Join(p.exclude, " "))
		}
	}
	return out
}

func sorted(items []event.Event) []event.Event {
	out := slices.Clone(items)
	slices.SortFunc(out, func(a, b event.Event) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// A small batch is one --ignore-times run, as before: new and removed
// directories are recursive lines in it.
func TestPlanSmallBatchIsOneExactRun(t *testing.T) {
	f := newFixture(t, nil)
	f.write(t, "a/x", "x")
	f.write(t, "a/y", "y")
	f.write(t, "new/z", "z")
	runs := planRsync(f.src, []event.Event{{Path: "a/x", Op: event.Create}, {Path: "a/y", Op: event.Modify},
		{Path: "gone", Op: event.Remove, IsDir: true}, {Path: "gonefile", Op: event.Remove}, {Path: "new", Op: event.Create | event.Rescan, IsDir: true}}, false)
	got := planString(t, f.src, nil, runs)
	want := []string{"exact: /a/ /a/x /a/y /gone /gone/*** /gonefile /new /new/*** -"}
	if !slices.Equal(got, want) {
		t.Fatalf("plan %q, want %q", got, want)
	}
}

// A rescan of a directory that was there before (collapsed children, a
// re-walk, new rules) keeps the quick check, to the nanosecond for a local
// destination: its unchanged files are not copied again. Removals join it.
func TestPlanRescanOfExistingDirIsQuickCheck(t *testing.T) {
	f := newFixture(t, nil)
	f.write(t, "big/x", "x")
	f.write(t, "f", "f")
	runs := planRsync(f.src, []event.Event{{Path: "big", Op: event.Rescan, IsDir: true}, {Path: "f", Op: event.Modify}, {Path: "gone", Op: event.Remove}}, false)
	got := planString(t, f.src, nil, runs)
	want := []string{"quick: /big /big/*** /gone -", "exact: /f -"}
	if !slices.Equal(got, want) {
		t.Fatalf("plan %q, want %q", got, want)
	}
	args := strings.Join(rsyncArgs(false, true, false, true, shapeList), " ")
	if !strings.Contains(args, "--modify-window=-1") || strings.Contains(args, "--ignore-times") {
		t.Errorf("quick run args: %s", args)
	}
	if args := strings.Join(rsyncArgs(false, false, false, true, shapeList), " "); !strings.Contains(args, "--ignore-times") {
		t.Errorf("exact run args: %s", args)
	}
	if args := strings.Join(rsyncArgs(false, true, true, true, shapeList), " "); strings.Contains(args, "--modify-window") || strings.Contains(args, "--ignore-times") {
		t.Errorf("initial sync args: %s", args)
	}
}

// A storm over a small tree syncs the root whole, and nothing else; one
// over a few directories of a larger tree syncs those directories one
// level deep.
func TestPlanDense(t *testing.T) {
	f := newFixture(t, nil)
	var items []event.Event
	for d := range 4 {
		for i := range 300 {
			rel := fmt.Sprintf("d%d/f%03d", d, i)
			f.write(t, rel, rel)
			items = append(items, event.Event{Path: rel, Op: event.Create | event.Modify})
		}
	}
	f.write(t, "d0/new/x", "x")
	items = append(items, event.Event{Path: "d0/new", Op: event.Create | event.Rescan, IsDir: true})
	got := planString(t, f.src, nil, planRsync(f.src, sorted(items), false))
	if want := []string{"quick: /*** -"}; !slices.Equal(got, want) {
		t.Fatalf("storm over the whole tree: plan %q, want %q", got, want)
	}

	// Each directory also holds a quiet subdirectory of 320 files, so no
	// subtree is dense; and one lost a subdirectory.
	for d := range 4 {
		for i := range 320 {
			f.write(t, fmt.Sprintf("d%d/quiet/q%03d", d, i), "q")
		}
	}
	items = append(items, event.Event{Path: "d1/sub", Op: event.Remove, IsDir: true})
	got = planString(t, f.src, nil, planRsync(f.src, sorted(items), false))
	want := []string{"quick: /d0/ /d0/* /d1/ /d1/* /d1/sub /d1/sub/*** /d2/ /d2/* /d3/ /d3/* -", "exact: /d0/ /d0/new /d0/new/*** -"}
	if !slices.Equal(got, want) {
		t.Fatalf("storm in 4 directories with quiet subdirectories: plan %q, want %q", got, want)
	}
}

// Dense syncs mirror what they cover, keep what the rules exclude out of
// the mirror, and delete what went away.
func TestPlanDenseMirrors(t *testing.T) {
	set, err := rules.Parse(strings.NewReader("-d^d1/tmp$\n-f\\.swp$\n+*\n"), "test")
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(c *Config) { c.Filter = set })
	for d := range 20 {
		for i := range 100 {
			f.write(t, fmt.Sprintf("quiet%02d/q%03d", d, i), "q")
		}
	}
	f.write(t, "d0/old/x", "x")
	f.write(t, "d0/stale", "s")
	f.full(t)
	if err := os.RemoveAll(filepath.Join(f.src, "d0/old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(f.src, "d0/stale")); err != nil {
		t.Fatal(err)
	}
	items := []event.Event{{Path: "d0/old", Op: event.Remove, IsDir: true}, {Path: "d0/stale", Op: event.Remove}}
	for d := range 3 {
		for i := range 400 {
			rel := fmt.Sprintf("d%d/f%03d", d, i)
			f.write(t, rel, rel)
			items = append(items, event.Event{Path: rel, Op: event.Create | event.Modify})
		}
	}
	f.write(t, "d1/tmp/junk", "j")
	f.write(t, "d1/x.swp", "s")
	f.write(t, "d2/sub/deep", "d")
	items = sorted(append(items, event.Event{Path: "d1/tmp", Op: event.Create | event.Rescan, IsDir: true},
		event.Event{Path: "d1/x.swp", Op: event.Create}, event.Event{Path: "d2/sub", Op: event.Create | event.Rescan, IsDir: true}))
	if runs := planRsync(f.src, items, false); len(runs) == 0 || !runs[0].quick {
		t.Fatalf("plan: %q", planString(t, f.src, set, runs))
	}
	f.sync(t, items...)
	for _, p := range []string{"d1/tmp", "d1/x.swp", "d0/old", "d0/stale"} {
		if _, err := os.Lstat(filepath.Join(f.dst, p)); err == nil {
			t.Errorf("%s is in the mirror", p)
		}
	}
	os.RemoveAll(filepath.Join(f.src, "d1/tmp"))
	os.Remove(filepath.Join(f.src, "d1/x.swp"))
	f.assertMirror(t)
}

// A subtree's size is counted no further than asked, and a count made
// already answers what it can.
func TestTreeSizes(t *testing.T) {
	root := t.TempDir()
	for i := range 10 {
		if err := os.WriteFile(filepath.Join(root, fmt.Sprintf("f%d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ts := &treeSizes{root: root, counted: map[string]treeCount{}} // no statfs shortcut
	for _, c := range []struct {
		limit int
		want  bool
		count treeCount
	}{
		{4, false, treeCount{5, false}},
		{3, false, treeCount{5, false}}, // answered by the lower bound
		{20, true, treeCount{10, true}},
		{9, false, treeCount{10, true}}, // answered by the exact count
	} {
		if got := ts.atMost("", c.limit); got != c.want || ts.counted[""] != c.count {
			t.Errorf("atMost(%d) = %v with %+v, want %v with %+v", c.limit, got, ts.counted[""], c.want, c.count)
		}
	}
}
