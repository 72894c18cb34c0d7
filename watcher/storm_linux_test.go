//go:build linux

package watcher

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// RENAME_EXCHANGE of two watched directories: two rename pairs whose second
// "moved from" names the first one's target.
func TestRenameExchange(t *testing.T) {
	root := t.TempDir()
	mkdirAll(t, filepath.Join(root, "a/a1"))
	mkdirAll(t, filepath.Join(root, "b/b1/b2"))
	r := start(t, root, Options{})
	err := unix.Renameat2(unix.AT_FDCWD, filepath.Join(root, "a"), unix.AT_FDCWD, filepath.Join(root, "b"), unix.RENAME_EXCHANGE)
	if err != nil {
		t.Skipf("renameat2 RENAME_EXCHANGE: %v", err)
	}
	writeFile(t, filepath.Join(root, "a/b1/b2/f"), "x")
	writeFile(t, filepath.Join(root, "b/a1/f"), "x")
	r.waitAll("both files", []string{"a/b1/b2/f", "b/a1/f"}, coveredBy(Create))
	r.waitWatches(6)
	writeFile(t, filepath.Join(root, "a/b1/b2/g"), "x")
	r.wait("create in exchanged a", is("a/b1/b2/g", Create, false))
	writeFile(t, filepath.Join(root, "b/a1/g"), "x")
	r.wait("create in exchanged b", is("b/a1/g", Create, false))
	checkTree(t, r)
}

// A directory renamed over an empty one replaces it.
func TestRenameOverEmptyDir(t *testing.T) {
	root := t.TempDir()
	mkdirAll(t, filepath.Join(root, "a/sub"))
	mkdirAll(t, filepath.Join(root, "b"))
	r := start(t, root, Options{})
	// os.Rename refuses an existing directory as the target; rename(2) does not.
	if err := unix.Rename(filepath.Join(root, "a"), filepath.Join(root, "b")); err != nil {
		t.Fatal(err)
	}
	r.wait("b replaced", is("b", Create|Rescan, true))
	r.waitWatches(3)
	writeFile(t, filepath.Join(root, "b/sub/f"), "x")
	r.wait("create in b/sub", is("b/sub/f", Create, false))
	checkTree(t, r)
}

// checkTree closes the watcher and compares its tree with the directories on
// disk: same paths, each with its own wd.
func checkTree(t *testing.T, r *rec) {
	t.Helper()
	if err := r.w.Close(); err != nil {
		t.Fatal(err)
	}
	var got []string
	var walk func(n *node)
	walk = func(n *node) {
		if !n.attached || r.w.wds[n.wd] != n {
			t.Errorf("node %q (wd %d) attached=%v, wds has %p", n.rel, n.wd, n.attached, r.w.wds[n.wd])
		}
		got = append(got, n.rel)
		for name, c := range n.children {
			if c.name != name || c.parent != n || c.rel != join(n.rel, name) {
				t.Errorf("node %q: child %q is %q at %q", n.rel, name, c.name, c.rel)
			}
			walk(c)
		}
	}
	walk(r.w.root)
	var want []string
	err := filepath.WalkDir(r.root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			rel, _ := filepath.Rel(r.root, p)
			if rel == "." {
				rel = ""
			}
			want = append(want, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("watched directories differ from the disk:\n got %q\nwant %q", got, want)
	}
}

// A storm of concurrent creations, deletions, renames within, moves in and
// out and exchanges: once it settles, the watches match the disk exactly
// and every path on disk was reported (itself, or below a Rescan).
func TestStormConverges(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  config
	}{
		{"default", defaultConfig()},
		{"oneEventPerRead", config{readBufSize: maxEventSize}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, outside := t.TempDir(), t.TempDir()
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			r := startCfg(t, root, Options{MovePairTimeout: 5 * time.Millisecond}, tc.cfg)
			storm(t, root, outside, seed, 400*time.Millisecond)
			r.waitWatches(countDirs(t, root))
			r.barrier()
			var want []string
			err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if rel, _ := filepath.Rel(root, p); rel != "." && !strings.HasPrefix(rel, ".barrier") {
					want = append(want, rel)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			r.waitAll("every path on disk reported", want, coveredBy(Create|Modify))
			checkTree(t, r)
		})
	}
}

func storm(t *testing.T, root, outside string, seed uint64, d time.Duration) {
	t.Helper()
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			path := func() string {
				parts := make([]string, 1+rng.IntN(3))
				for i := range parts {
					parts[i] = fmt.Sprintf("d%d", rng.IntN(4))
				}
				return filepath.Join(root, filepath.Join(parts...))
			}
			for i := 0; time.Now().Before(end); i++ {
				// Errors are expected: the workers race each other.
				switch rng.IntN(9) {
				case 0, 1:
					_ = os.MkdirAll(path(), 0o755)
				case 2:
					_ = os.WriteFile(filepath.Join(path(), fmt.Sprintf("f%d", rng.IntN(3))), []byte("x"), 0o644)
				case 3:
					_ = os.RemoveAll(path())
				case 4, 5:
					_ = os.Rename(path(), path())
				case 6:
					_ = os.Rename(path(), filepath.Join(outside, fmt.Sprintf("out-%d-%d", g, i)))
				case 7:
					src := filepath.Join(outside, fmt.Sprintf("in-%d-%d", g, i))
					_ = os.MkdirAll(filepath.Join(src, "x/y"), 0o755)
					_ = os.WriteFile(filepath.Join(src, "x/f"), []byte("x"), 0o644)
					_ = os.Rename(src, path())
				case 8:
					_ = unix.Renameat2(unix.AT_FDCWD, path(), unix.AT_FDCWD, path(), unix.RENAME_EXCHANGE)
				}
			}
		})
	}
	wg.Wait()
}
