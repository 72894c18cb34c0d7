//go:build linux

package watcher

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// The conformance suite's Linux part: the overflow path (a tiny kernel
// queue) and unmounts.

// osTargets adds FreeBSD's snapshot backend, driven by Linux's inotify with
// the syscalls swapped (see snapLinuxOps): the logic FreeBSD runs, on a real
// kernel.
func osTargets() []target {
	return []target{{name: "snapshot", backend: Inotify, start: func(ctx context.Context, opts Options) (*Watcher, error) {
		opts, err := opts.withDefaults()
		if err != nil {
			return nil, err
		}
		pin, err := PinRoot(opts.Root)
		if err != nil {
			return nil, err
		}
		src, err := newSnapInotify(opts.Root, snapLinuxOps())
		if err != nil {
			return nil, err
		}
		core := newSnapCore(snapConfigOf(opts, pin), src, src)
		src.core = core
		w, err := newSnapWatcher(ctx, opts, Inotify, pin, core, src)
		if err != nil {
			return nil, err
		}
		return &Watcher{b: w}, nil
	}}}
}

// TestConformanceOverflow: pitfall 5. The kernel queue overflows while
// nobody reads; the re-walk repairs the tree and the mirror converges.
func TestConformanceOverflow(t *testing.T) {
	for _, b := range targets() {
		t.Run(b.name, func(t *testing.T) {
			root, outside := t.TempDir(), t.TempDir()
			apply(t, root, outside, []step{{"mkdir", "old/a/b", ""}, {"write", "old/a/f", "1"}, {"mkdir", "keep/x", ""}}, nil)
			restore := setSysctl(t, queueSysctl(b.backend), "16")
			c := startConformance(t, b, root, Options{})
			restore()
			// Nobody reads now: the watcher fills its channel, then the
			// kernel queue overflows.
			for i := range 2000 {
				writeFile(t, filepath.Join(root, fmt.Sprintf("f%d", i%300)), fmt.Sprint(i))
			}
			apply(t, root, outside, []step{{"rmrf", "old", ""}, {"mkdir", "new/a/b", ""}, {"write", "new/a/b/f", "2"},
				{"mv", "keep", "kept"}, {"write", "kept/x/g", "3"}}, c)
			c.converge(t)
			if c.w.Overflows() == 0 {
				t.Fatal("the queue never overflowed: the test did not test the overflow path")
			}
			// The repaired tree still reports.
			apply(t, root, outside, []step{{"write", "new/a/b/late", "4"}, {"mkdir", "kept/x/y", ""}}, c)
			c.converge(t)
		})
	}
}

// TestConformanceUnmount: pitfall 7 for mounts. A file system unmounted
// below the root uncovers a directory, which the mirror gets; the root's own
// file system unmounted stops the watcher, the mirror intact.
func TestConformanceUnmount(t *testing.T) {
	for _, b := range targets() {
		t.Run(b.name, func(t *testing.T) {
			root := mountTmpfs(t)
			apply(t, root, root, []step{{"mkdir", "m/under", ""}, {"write", "m/under/f", "covered"}}, nil)
			sub := filepath.Join(root, "m")
			if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "size=1m"); err != nil {
				t.Skipf("cannot mount tmpfs: %v", err)
			}
			t.Cleanup(func() { _ = unix.Unmount(sub, unix.MNT_DETACH) })
			apply(t, root, root, []step{{"mkdir", "m/x/y", ""}, {"write", "m/x/f", "mounted"}}, nil)
			c := startConformance(t, b, root, Options{})
			if err := unix.Unmount(sub, unix.MNT_DETACH); err != nil {
				t.Fatal(err)
			}
			c.converge(t)
			apply(t, root, root, []step{{"write", "m/under/g", "after"}, {"mkdir", "m/new", ""}}, c)
			c.converge(t)

			if err := unix.Unmount(root, unix.MNT_DETACH); err != nil {
				t.Fatal(err)
			}
			c.untilDone(t)
			var re *RootError
			if !errors.As(c.w.Err(), &re) {
				t.Fatalf("Err() = %v, want a *RootError", c.w.Err())
			}
			if _, ok := c.model["m/under/g"]; !ok {
				t.Errorf("the mirror lost content when the root was unmounted: %q", c.paths())
			}
		})
	}
}

// TestFanotifyBeyondWatchLimit: fanotify needs no watch per directory, so a
// tree with more directories than max_user_watches is mirrored. The limit is
// lowered machine-wide for a moment (make test-sysctl runs this alone):
// fanotify needs CAP_SYS_ADMIN in the initial user namespace, so a user
// namespace's own limit cannot be used here.
func TestFanotifyBeyondWatchLimit(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("fanotify needs root (CAP_SYS_ADMIN); run the tests as root")
	}
	root, outside := t.TempDir(), t.TempDir()
	for i := range 300 {
		mkdirAll(t, filepath.Join(root, fmt.Sprintf("d%03d/sub", i)))
	}
	setSysctl(t, "/proc/sys/fs/inotify/max_user_watches", "200")
	if w, err := New(t.Context(), Options{Root: root, Backend: Inotify}); !errors.Is(err, unix.ENOSPC) {
		if w != nil {
			w.Close()
		}
		t.Fatalf("inotify on 601 directories with max_user_watches=200: %v, want ENOSPC (else this tests nothing)", err)
	}
	c := startConformance(t, fanotifyTarget(t), root, Options{})
	apply(t, root, outside, []step{{"write", "d299/sub/f", "1"}, {"mkdir", "d000/sub/new/deeper", ""},
		{"mv", "d150", "d000/sub/new/deeper/moved"}, {"sync", "", ""}, {"write", "d000/sub/new/deeper/moved/sub/g", "2"},
		{"rmrf", "d007", ""}}, c)
	c.converge(t)
}

func fanotifyTarget(t *testing.T) target {
	t.Helper()
	for _, b := range targets() {
		if b.backend == Fanotify {
			return b
		}
	}
	t.Fatal("no fanotify target")
	return target{}
}
