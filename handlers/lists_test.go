package handlers

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clsync-go/clsync/event"
	"github.com/clsync-go/clsync/rules"
)

// steps collects what p plans for items.
func steps(t *testing.T, p planner, items []event.Event) []step {
	t.Helper()
	var got []step
	if err := p.plan(items, false, func(s step) error { got = append(got, s); return nil }); err != nil {
		t.Fatal(err)
	}
	return got
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
	steps := steps(t, p, []event.Event{{Path: "link/sub", Op: event.Rescan, IsDir: true}, {Path: "link", Op: event.Rescan, IsDir: true}})
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

// A path the rules admit only for walking or monitoring is no sync item,
// the root included: the man page's authorized_keys rules walk the root
// and the homes and sync only the key files.
func TestPlanWalkOnlyPaths(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"alice/.ssh", "bob/.ssh", "bob/other"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"alice/.ssh/authorized_keys", "alice/.ssh/id_rsa", "bob/.ssh/authorized_keys", "bob/notes"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set, err := rules.Parse(strings.NewReader("+w^$\n+w^[^/]+$\n+W^[^/]+/.ssh$\n+f^[^/]+/.ssh/authorized_keys$\n-*"), "authorized_files_only")
	if err != nil {
		t.Fatal(err)
	}
	p := planner{root: root, filter: set}
	for _, items := range [][]event.Event{
		{{Path: "", Op: event.Rescan, IsDir: true}},
		{{Path: "", Op: event.Attrib, IsDir: true}, {Path: "alice", Op: event.Rescan, IsDir: true}, {Path: "bob/.ssh/authorized_keys", Op: event.Modify}},
	} {
		var got []string
		for _, s := range steps(t, p, items) {
			got = append(got, s.rel)
		}
		want := []string{"alice/.ssh/authorized_keys", "bob/.ssh/authorized_keys"}
		if !slices.Equal(got, want) {
			t.Errorf("items %v: steps %q, want %q", items, got, want)
		}
	}
}
