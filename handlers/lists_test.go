package handlers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clsync-go/clsync/event"
)

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
	steps, err := p.plan([]event.Event{{Path: "link/sub", Op: event.Rescan, IsDir: true}, {Path: "link", Op: event.Rescan, IsDir: true}}, false)
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
