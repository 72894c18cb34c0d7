package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clsync-go/clsync/internal/testlog"
	"github.com/clsync-go/clsync/internal/treecmp"
)

// mirror is one running agent, in process, on temp dirs.
type mirror struct {
	src, dst string
	cancel   context.CancelFunc
	done     chan int
	stderr   *testlog.Buffer
}

func needRsync(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("rsync"); err != nil {
		t.Skip("rsync is not installed (make deps installs it)")
	}
}

// startMirror runs clsync -Mrsyncdirect on a fresh src (filled by prepare)
// and an empty dst, and waits for the initial sync.
func startMirror(t *testing.T, prepare func(src string), extra ...string) *mirror {
	t.Helper()
	needRsync(t)
	dir := t.TempDir()
	m := &mirror{src: filepath.Join(dir, "src"), dst: filepath.Join(dir, "dst"), done: make(chan int, 1), stderr: &testlog.Buffer{}}
	for _, d := range []string{m.src, m.dst} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A file in the source makes waiting for the initial sync meaningful.
	if err := os.WriteFile(filepath.Join(m.src, ".initial"), []byte("i"), 0o644); err != nil {
		t.Fatal(err)
	}
	if prepare != nil {
		prepare(m.src)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	args := append([]string{"-H", "/NULL/", "-Mrsyncdirect", "-W", m.src, "-D", m.dst, "-w0", "-t0", "-T0"}, extra...)
	go func() { m.done <- run(ctx, args, &bytes.Buffer{}, m.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-m.done:
		case <-time.After(10 * time.Second):
			t.Error("clsync did not stop within 10 s of its context being cancelled")
		}
	})
	m.waitMirror(t)
	return m
}

// waitMirror waits until dst equals src, failing with the differences if it
// does not happen within a generous bound (this is not a timing assertion:
// the bound only keeps a broken mirror from hanging the test).
func (m *mirror) waitMirror(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		diffs, err := treecmp.Diff(m.src, m.dst)
		if err == nil && len(diffs) == 0 {
			return
		}
		select {
		case code := <-m.done:
			m.done <- code
			t.Fatalf("clsync exited with %d: %s", code, m.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			if len(diffs) > 20 {
				diffs = append(diffs[:20], "...")
			}
			t.Fatalf("destination never became equal to the source: %v\n%s\nlog: %s", err, strings.Join(diffs, "\n"), m.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sh(t *testing.T, dir, script string) {
	t.Helper()
	cmd := exec.Command("sh", "-ec", script)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
}

func writeTree(t *testing.T, root string, dirs, files int) {
	t.Helper()
	for d := 0; d < dirs; d++ {
		p := filepath.Join(root, fmt.Sprintf("d%03d/sub%d", d, d%7))
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := 0; f < files; f++ {
			if err := os.WriteFile(filepath.Join(p, fmt.Sprintf("f%d.txt", f)), []byte(strings.Repeat("x", d*f%300)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// Real-world churn, each step followed by an exact mirror, on each Linux
// monitor.
func TestMirrorChurn(t *testing.T) {
	for _, monitor := range monitors(t) {
		t.Run(monitor, func(t *testing.T) { mirrorChurn(t, "--monitor="+monitor) })
	}
}

// monitors are the --monitor values this machine can run: fanotify needs
// root (CAP_SYS_ADMIN).
func monitors(t *testing.T) []string {
	if os.Geteuid() != 0 {
		t.Log("fanotify needs root (CAP_SYS_ADMIN): testing inotify only")
		return []string{"inotify"}
	}
	return []string{"inotify", "fanotify"}
}

func mirrorChurn(t *testing.T, monitor string) {
	m := startMirror(t, func(src string) { writeTree(t, src, 20, 10) }, monitor)

	t.Run("large tree copied in", func(t *testing.T) {
		other := t.TempDir()
		writeTree(t, other, 60, 20)
		sh(t, m.src, "cp -a "+other+" copied")
		m.waitMirror(t)
	})
	t.Run("renames of directories synced long ago", func(t *testing.T) {
		sh(t, m.src, "mv d001 d001-renamed && mv d002 copied/d002-moved && mv copied/d010 top10")
		m.waitMirror(t)
	})
	t.Run("editor safe-save", func(t *testing.T) {
		sh(t, m.src, "for i in 1 2 3 4 5; do printf 'version %s\\n' $i > d003/.f1.txt.swp && mv d003/.f1.txt.swp d003/sub3/f1.txt; done")
		m.waitMirror(t)
	})
	t.Run("log rotation", func(t *testing.T) {
		sh(t, m.src, `mkdir -p log; for i in $(seq 1 50); do echo line $i >> log/app.log; done
			mv log/app.log log/app.log.1; : > log/app.log; echo fresh >> log/app.log
			gzip -c log/app.log.1 > log/app.log.1.gz; rm log/app.log.1`)
		m.waitMirror(t)
	})
	t.Run("truncate without close and a writer that never closes", func(t *testing.T) {
		big := filepath.Join(m.src, "big.bin")
		if err := os.WriteFile(big, bytes.Repeat([]byte("b"), 1<<20), 0o644); err != nil {
			t.Fatal(err)
		}
		m.waitMirror(t)
		if err := syscall.Truncate(big, 1000); err != nil {
			t.Fatal(err)
		}
		m.waitMirror(t)
		f, err := os.OpenFile(filepath.Join(m.src, "open.log"), os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString("written, never closed\n"); err != nil {
			t.Fatal(err)
		}
		m.waitMirror(t)
	})
	t.Run("tar extraction", func(t *testing.T) {
		sh(t, m.src, "tar -C d004 -cf ../tree.tar . && mkdir -p extracted && tar -C extracted -xf ../tree.tar && rm ../tree.tar")
		m.waitMirror(t)
	})
	t.Run("git commits and checkouts", func(t *testing.T) {
		if _, err := exec.LookPath("git"); err != nil {
			t.Skip("git not installed")
		}
		sh(t, m.src, `mkdir repo && cd repo && git init -q && git config user.email t@t && git config user.name t
			for i in 1 2 3; do echo $i > file$i; mkdir -p dir$i; echo $i > dir$i/x; done
			git add -A && git commit -qm one && git checkout -qb other && git rm -rq dir1 && echo changed > file2
			mkdir newdir && echo n > newdir/n && git add -A && git commit -qm two && git checkout -q -
			git checkout -q other && git gc -q`)
		m.waitMirror(t)
	})
	t.Run("mass delete", func(t *testing.T) {
		sh(t, m.src, "rm -rf copied d00* top10")
		m.waitMirror(t)
	})
	t.Run("names are bytes", func(t *testing.T) {
		sh(t, m.src, `mkdir -p 'we*ird/[dir]' && printf x > 'we*ird/[dir]/-leading' && printf y > "$(printf 'new\nline')" && printf z > "$(printf '\377bytes')" && mv 'we*ird' 'we?ird'`)
		m.waitMirror(t)
	})
}

// The root vanishing must stop the run with an error and leave the mirror
// as it was: never sync an empty tree over it.
func TestMirrorRootRemovedKeepsDestination(t *testing.T) {
	for _, monitor := range monitors(t) {
		t.Run(monitor, func(t *testing.T) { mirrorRootRemoved(t, "--monitor="+monitor) })
	}
}

func mirrorRootRemoved(t *testing.T, monitor string) {
	m := startMirror(t, func(src string) { writeTree(t, src, 3, 3) }, monitor)
	if err := os.Rename(m.src, m.src+".gone"); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-m.done:
		if code == 0 {
			t.Errorf("exit code 0 after the watch dir went away; log: %s", m.stderr.String())
		}
		m.done <- code
	case <-time.After(10 * time.Second):
		t.Fatal("clsync kept running after its watch dir was moved away")
	}
	diffs, err := treecmp.Diff(m.src+".gone", m.dst)
	if err != nil || len(diffs) != 0 {
		t.Fatalf("the destination changed after the root went away: %v %v", err, diffs)
	}
}

// --exit-on-no-events: sync everything, including what changed during the
// initial sync, then exit 0.
func TestExitOnNoEvents(t *testing.T) {
	needRsync(t)
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	writeTree(t, src, 5, 5)
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"-H", "/NULL/", "-Mrsyncdirect", "-W", src, "-D", dst, "-w0", "-t0", "--exit-on-no-events"}, &bytes.Buffer{}, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if diffs, err := treecmp.Diff(src, dst); err != nil || len(diffs) != 0 {
		t.Fatalf("not a mirror after --exit-on-no-events: %v %v", err, diffs)
	}
}

// A sync that fails is not forgotten: with --ignore-failures the paths are
// retried until the destination accepts them.
func TestFailedSyncIsRetried(t *testing.T) {
	status := filepath.Join(t.TempDir(), "status")
	m := startMirror(t, nil, "--ignore-failures", "-r1", "--status-file", status)
	blocker := filepath.Join(m.dst, "sub")
	if err := os.WriteFile(blocker, []byte("a file where a directory must go"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(m.dst, 0o555); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// root ignores the mode: make the destination fail another way.
		if err := os.Chmod(m.dst, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mount("tmpfs", m.dst, "tmpfs", syscall.MS_RDONLY, ""); err != nil {
			t.Skipf("cannot make the destination read-only: %v", err)
		}
	}
	sh(t, m.src, "mkdir -p sub/deeper && echo v > sub/deeper/file")
	waitFor(t, "a failed sync", func() bool {
		b, _ := os.ReadFile(status)
		return string(b) == "synchandler error"
	})
	if os.Geteuid() == 0 {
		// Detached: a retry may be writing there right now.
		if err := syscall.Unmount(m.dst, syscall.MNT_DETACH); err != nil {
			t.Fatal(err)
		}
	} else if err := os.Chmod(m.dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(blocker); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	m.waitMirror(t)
}

// A destination that cannot be written is refused before anything runs.
func TestReadOnlyDestination(t *testing.T) {
	needRsync(t)
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	for _, d := range []string{src, dst} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mount("tmpfs", dst, "tmpfs", syscall.MS_RDONLY, ""); err != nil {
		t.Skipf("cannot mount a read-only tmpfs: %v", err)
	}
	defer syscall.Unmount(dst, syscall.MNT_DETACH)
	code, _, stderr := runCLI(t, "-H", "/NULL/", "-Mrsyncdirect", "-W", src, "-D", dst)
	if code != int(syscall.EROFS) || !strings.Contains(stderr, "not writable") {
		t.Errorf("exit %d %q, want %d naming the destination as not writable", code, stderr, syscall.EROFS)
	}
}

// --threading: syncs run side by side (safe: never two on one path), and
// the mirror is still exact.
func TestMirrorThreading(t *testing.T) {
	for _, mode := range []string{"safe", "full"} {
		t.Run(mode, func(t *testing.T) {
			m := startMirror(t, func(src string) { writeTree(t, src, 10, 5) }, "-p", mode)
			sh(t, m.src, `for i in $(seq 1 30); do mkdir -p "n$i/x"; echo $i > "n$i/x/f"; done
				mv d001 moved; rm -rf d002; for f in d003/sub3/*; do echo more >> "$f"; done`)
			m.waitMirror(t)
		})
	}
}

// --exit-on-no-events with a tree of 20 000 directories moved in while the
// initial sync runs: the watcher reports it only once its walk is done, and
// the agent must not take the silence before that for the end of the
// events (it exited 0 with none of it in the destination).
func TestExitOnNoEventsWaitsForMovedInTree(t *testing.T) {
	needRsync(t)
	dir := t.TempDir()
	src, dst, big := filepath.Join(dir, "src"), filepath.Join(dir, "dst"), filepath.Join(dir, "big")
	writeTree(t, src, 3, 3)
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	sh(t, dir, "mkdir -p big/d$(seq -s ' big/d' 0 199)")
	sh(t, big, `for d in d*; do (cd $d && mkdir e$(seq -s ' e' 0 99)); done; echo last > d199/e99/file`)
	moved := filepath.Join(dir, "moved")
	handler := filepath.Join(dir, "handler")
	// The tree arrives once the initial rsync is done, before the handler
	// returns: only the watcher's walk of it can report it.
	script := "#!/bin/sh\nrsync \"$@\"\nrc=$?\nif [ ! -e " + moved + " ]; then touch " + moved + "; mv " + big + " " + src + "/big; fi\nexit $rc\n"
	if err := os.WriteFile(handler, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"-H", "/NULL/", "-Mrsyncdirect", "-W", src, "-D", dst, "-S", handler,
		"-w0", "-t0", "--exit-on-no-events"}, &bytes.Buffer{}, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if diffs, err := treecmp.Diff(src, dst); err != nil || len(diffs) != 0 {
		t.Fatalf("--exit-on-no-events exited with the destination short of %d paths (%v), e.g. %v", len(diffs), err, diffs[:min(len(diffs), 5)])
	}
}

// rsync exits 23 when a file it listed is replaced by a symlink before it
// opens it (its sender opens with O_NOFOLLOW). That is the source changing
// under the sync, not a failing handler: with clsync's default -r1 the run
// must go on, and the change reach the destination.
func TestRsyncRaceIsNotAFailure(t *testing.T) {
	needRsync(t)
	src, dst := tempTree(t)
	if err := os.WriteFile(filepath.Join(src, "a.big"), bytes.Repeat([]byte("a"), 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "z"), []byte("a file, for now"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	first, status := filepath.Join(dir, "first-exit"), filepath.Join(dir, "status")
	// The first run is slowed down; once it writes a.big's temporary file
	// (so its file list holds z as a regular file), z becomes a symlink.
	handler := filepath.Join(dir, "handler")
	script := `#!/bin/sh
if [ ! -e ` + first + ` ]; then
	( until ls -a ` + dst + ` | grep -q '^\.a\.big\.'; do sleep 0.01; done
	  ln -s a.big ` + src + `/z.new && mv ` + src + `/z.new ` + src + `/z ) &
	rsync --bwlimit=2000 "$@"
	code=$?
	echo $code > ` + first + `
	exit $code
fi
exec rsync "$@"
`
	if err := os.WriteFile(handler, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, "-Mrsyncdirect", "-W", src, "-D", dst, "-S", handler, "-w0", "-t0", "--status-file", status)
	waitFor(t, "the first rsync to end", func() bool { b, _ := os.ReadFile(first); return len(b) > 0 })
	if b, _ := os.ReadFile(first); strings.TrimSpace(string(b)) != "23" {
		t.Skipf("rsync did not meet the change (exit %s): the race this test needs did not happen", b)
	}
	waitFor(t, "the mirror", func() bool {
		diffs, err := treecmp.Diff(src, dst)
		return err == nil && len(diffs) == 0
	})
	select {
	case <-a.exited:
		t.Fatalf("the agent stopped (exit %d) on rsync's exit 23 for a file that changed under it: %s", a.code, a.stderr.String())
	default:
	}
	if b, _ := os.ReadFile(status); string(b) != "running" {
		t.Errorf("status %q", b)
	}
}

// A mode or owner change of the watch dir alone reaches the destination
// (the list builder once dropped the root item and rsync never ran).
func TestRootAttributesSynced(t *testing.T) {
	m := startMirror(t, nil)
	mode := func(p string) os.FileMode {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	for _, perm := range []os.FileMode{0o700, 0o751} {
		if err := os.Chmod(m.src, perm); err != nil {
			t.Fatal(err)
		}
		waitFor(t, fmt.Sprintf("the destination's mode to become %o", perm), func() bool { return mode(m.dst) == perm })
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(m.src, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the destination's owner to change", func() bool {
			var st syscall.Stat_t
			return syscall.Stat(m.dst, &st) == nil && st.Uid == 65534 && st.Gid == 65534
		})
	}
}
