package beneath

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func mk(t *testing.T, root string, dirs, files []string, links map[string]string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(root, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for l, target := range links {
		if err := os.Symlink(target, filepath.Join(root, l)); err != nil {
			t.Fatal(err)
		}
	}
}

// A symlink is described itself as the last component and refused in any
// other: "a/link/x" never reaches what the link points to.
func TestLstatNeverFollows(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	mk(t, root, []string{"a/b"}, []string{"a/b/f"}, map[string]string{"a/link": outside, "a/flink": "b/f"})
	mk(t, outside, nil, []string{"secret"}, nil)
	for _, c := range []struct {
		rel  string
		ok   bool
		mode uint32
	}{
		{"", true, 0o040000}, {"a", true, 0o040000}, {"a/b/f", true, 0o100000},
		{"a/link", true, 0o120000}, {"a/flink", true, 0o120000},
		{"a/link/secret", false, 0}, {"a/flink/x", false, 0}, {"a/b/f/x", false, 0}, {"a/missing", false, 0},
	} {
		st, err := Lstat(root, c.rel)
		if (err == nil) != c.ok {
			t.Errorf("Lstat(%q): err %v, want ok=%v", c.rel, err, c.ok)
			continue
		}
		if err != nil && !Gone(err) {
			t.Errorf("Lstat(%q): %v is not Gone", c.rel, err)
		}
		if c.ok && uint32(st.Mode)&0o170000 != c.mode {
			t.Errorf("Lstat(%q): mode %o, want type %o", c.rel, st.Mode, c.mode)
		}
	}
	if IsDir(root, "a/link") || !IsDir(root, "a/b") {
		t.Error("IsDir follows a symlink or misses a directory")
	}
}

type visit struct {
	rel   string
	isDir bool
}

func TestWalk(t *testing.T) {
	root := t.TempDir()
	mk(t, root, []string{"d/sub", "d/skip/deep", "e"}, []string{"d/z", "d/sub/f", "d/skip/deep/g", "top"},
		map[string]string{"d/ln": "sub", "e/out": "/"})
	var got []visit
	err := Walk(root, "d", func(rel string, isDir bool) error {
		got = append(got, visit{rel, isDir})
		if rel == "d/skip" {
			return SkipDir
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []visit{{"d", true}, {"d/ln", false}, {"d/skip", true}, {"d/sub", true}, {"d/sub/f", false}, {"d/z", false}}
	if !slices.Equal(got, want) {
		t.Errorf("walk of d:\n got %v\nwant %v", got, want)
	}
	got = nil
	if err := Walk(root, "", func(rel string, isDir bool) error { got = append(got, visit{rel, isDir}); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 12 || got[0] != (visit{"", true}) {
		t.Errorf("walk of the root: %v", got)
	}
	// A start that is a symlink, a file or missing.
	for rel, want := range map[string][]visit{"e/out": {{"e/out", false}}, "top": {{"top", false}}, "nothing": nil} {
		got = nil
		if err := Walk(root, rel, func(rel string, isDir bool) error { got = append(got, visit{rel, isDir}); return nil }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("walk of %q: %v, want %v", rel, got, want)
		}
	}
	stop := errors.New("stop")
	if err := Walk(root, "", func(string, bool) error { return stop }); err != stop {
		t.Errorf("the callback's error was not returned: %v", err)
	}
}

// A directory removed during the walk is skipped, not an error.
func TestWalkVanishing(t *testing.T) {
	root := t.TempDir()
	mk(t, root, []string{"a/x", "b"}, []string{"a/x/f"}, nil)
	err := Walk(root, "", func(rel string, isDir bool) error {
		if rel == "a" {
			return os.RemoveAll(filepath.Join(root, "a"))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk over a vanished directory: %v", err)
	}
}

func TestCount(t *testing.T) {
	root := t.TempDir()
	mk(t, root, []string{"a/b/c", "d"}, []string{"a/f1", "a/b/f2", "a/b/c/f3", "top"}, map[string]string{"a/ln": "/"})
	if got := Count(root, "", 100); got != 9 {
		t.Errorf("Count of the tree: %d, want 9", got)
	}
	if got := Count(root, "a", 100); got != 6 {
		t.Errorf("Count of a: %d, want 6", got)
	}
	if got := Count(root, "", 3); got != 4 {
		t.Errorf("Count with limit 3: %d, want 4 (past the limit)", got)
	}
	if got := Entries(root, "a"); got != 3 {
		t.Errorf("Entries of a: %d, want 3", got)
	}
	if got := Entries(root, "missing"); got != 0 {
		t.Errorf("Entries of a missing directory: %d", got)
	}
}
