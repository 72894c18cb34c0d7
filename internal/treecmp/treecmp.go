// Package treecmp compares two directory trees the way the benchmark
// harness does: paths, types, modes, sizes, contents and symlink targets
// (not owners or times). Tests use it to assert on a destination tree.
package treecmp

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

type entry struct {
	mode    fs.FileMode
	content []byte // file content or symlink target
}

func snapshot(root string) (map[string]entry, error) {
	out := map[string]entry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		e := entry{mode: fi.Mode()}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			e.content = []byte(t)
			e.mode = fs.ModeSymlink
		case fi.Mode().IsRegular():
			if e.content, err = os.ReadFile(p); err != nil {
				return err
			}
		}
		out[rel] = e
		return nil
	})
	return out, err
}

// Diff lists the differences between the trees under a and b, one line per
// path, sorted; nil means equal.
func Diff(a, b string) ([]string, error) {
	sa, err := snapshot(a)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", a, err)
	}
	sb, err := snapshot(b)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", b, err)
	}
	var diffs []string
	for p, ea := range sa {
		eb, ok := sb[p]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("missing %q", p))
		case ea.mode != eb.mode:
			diffs = append(diffs, fmt.Sprintf("mode %q: %v != %v", p, ea.mode, eb.mode))
		case !bytes.Equal(ea.content, eb.content):
			diffs = append(diffs, fmt.Sprintf("content %q", p))
		}
	}
	for p := range sb {
		if _, ok := sa[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("extra %q", p))
		}
	}
	sort.Strings(diffs)
	return diffs, nil
}
