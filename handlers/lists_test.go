package handlers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clsync-go/clsync/watcher"
)

// Masks of synthetic items use inotify's values, as clsync's handlers
// expect: IN_CREATE 0x100, IN_MODIFY 0x2, IN_ATTRIB 0x4, IN_DELETE 0x200,
// IN_ISDIR 0x40000000. A kernel mask is passed on untouched.
func TestEventMask(t *testing.T) {
	for _, c := range []struct {
		it   Item
		want uint32
	}{
		{Item{Op: watcher.Create}, 0x100},
		{Item{Op: watcher.Create | watcher.Modify}, 0x102},
		{Item{Op: watcher.Attrib, IsDir: true}, 0x40000004},
		{Item{Op: watcher.Remove, IsDir: true}, 0x40000200},
		{Item{Op: watcher.Rescan, IsDir: true}, 0x40000100},
		{Item{Op: watcher.Remove | watcher.Create}, 0x300},
		{Item{Op: watcher.Create, Mask: 0x80}, 0x80},
	} {
		if got := eventMask(c.it); got != c.want {
			t.Errorf("eventMask(%s dir=%v mask=%#x) = %#x, want %#x", c.it.Op, c.it.IsDir, c.it.Mask, got, c.want)
		}
	}
}

func TestSplitArgv(t *testing.T) {
	if parts := splitArgv(nil); len(parts) != 0 {
		t.Errorf("no names: %d parts", len(parts))
	}
	huge := strings.Repeat("x", argvBudget+1)
	parts := splitArgv([]string{"a", huge, "b"})
	if len(parts) != 3 || parts[1][0] != huge {
		t.Errorf("a name over budget does not get a part of its own: %d parts", len(parts))
	}
}

// A rescan below a symlinked directory is not walked: the symlink would
// lead out of the tree.
func TestPlanDoesNotWalkThroughSymlinks(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	tree(t, outside, "sub/secret")
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	p := planner{root: root}
	steps, err := p.plan([]Item{{Path: "link/sub", Op: watcher.Rescan, IsDir: true}, {Path: "link", Op: watcher.Rescan, IsDir: true}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 2 || steps[0].rel != "link/sub" || steps[1].rel != "link" {
		t.Errorf("steps = %+v, want link/sub and link, unwalked", steps)
	}
}

func TestUnknownMode(t *testing.T) {
	for _, mode := range []string{"so", "rsyncso", "", "Simple"} {
		_, err := New(Config{Mode: mode})
		if err == nil || !strings.Contains(err.Error(), "unknown sync handler mode") || strings.Contains(err.Error(), "\n") {
			t.Errorf("mode %q: err = %v", mode, err)
		}
	}
}
