package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clsync-go/clsync/internal/treecmp"
	"golang.org/x/sys/unix"
)

// --status-file holds clsync's word without a newline while running and is
// removed on exit; --pid-file holds our pid.
func TestStatusAndPidFiles(t *testing.T) {
	needRsync(t)
	src, dst := tempTree(t)
	dir := t.TempDir()
	status, pid := filepath.Join(dir, "status"), filepath.Join(dir, "pid")
	a := startAgent(t, "-Mrsyncdirect", "-W", src, "-D", dst, "-w0", "-t0", "--status-file", status, "-z", pid)
	waitFor(t, "status running", func() bool {
		b, _ := os.ReadFile(status)
		return string(b) == "running"
	})
	b, err := os.ReadFile(pid)
	if err != nil || string(b) != strconv.Itoa(a.cmd.Process.Pid) {
		t.Errorf("pid file %q (%v), want %d", b, err, a.cmd.Process.Pid)
	}
	a.signal(t, syscall.SIGTERM)
	a.wait(t, 5*time.Second)
	for _, p := range []string{status, pid} {
		if exists(p) {
			t.Errorf("%s left behind after exit", p)
		}
	}
}

// The pre-exit hook runs before the last sync of --exit-on-no-events and
// what it changes is synced; the exit hook runs last, with the label.
func TestExitHooks(t *testing.T) {
	needRsync(t)
	src, dst := tempTree(t)
	dir := t.TempDir()
	record := filepath.Join(dir, "record")
	pre := filepath.Join(dir, "pre")
	post := filepath.Join(dir, "post")
	os.WriteFile(pre, []byte("#!/bin/sh\necho pre $1 >> "+record+"\necho late > "+src+"/from-pre-exit-hook\n"), 0o755)
	os.WriteFile(post, []byte("#!/bin/sh\necho exit $1 >> "+record+"\n"), 0o755)
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"-H", "/NULL/", "-Mrsyncdirect", "-W", src, "-D", dst, "-w0", "-t0", "-l", "lbl",
		"--exit-on-no-events", "--pre-exit-hook", pre, "--exit-hook", post}, &bytes.Buffer{}, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	got, _ := os.ReadFile(record)
	if string(got) != "pre lbl\nexit lbl\n" {
		t.Errorf("hooks ran as %q, want the pre-exit hook then the exit hook, with the label", got)
	}
	if !exists(filepath.Join(dst, "from-pre-exit-hook")) {
		t.Error("what the pre-exit hook wrote was not synced")
	}
}

// --standby-file holds syncs while it exists.
func TestStandbyFile(t *testing.T) {
	needRsync(t)
	src, dst := tempTree(t)
	dir := t.TempDir()
	standby, status := filepath.Join(dir, "standby"), filepath.Join(dir, "status")
	a := startAgent(t, "-Mrsyncdirect", "-W", src, "-D", dst, "-w0", "-t0", "--standby-file", standby, "--status-file", status)
	waitFor(t, "the initial sync", func() bool { return exists(filepath.Join(dst, "seed")) })
	os.WriteFile(standby, nil, 0o644)
	os.WriteFile(filepath.Join(src, "held"), nil, 0o644)
	waitFor(t, "status hold on", func() bool {
		b, _ := os.ReadFile(status)
		return string(b) == "hold on"
	})
	if exists(filepath.Join(dst, "held")) {
		t.Fatal("synced while the standby file exists")
	}
	os.Remove(standby)
	waitFor(t, "the held sync", func() bool { return exists(filepath.Join(dst, "held")) })
	select {
	case <-a.exited:
		t.Fatalf("exited with %d: %s", a.code, a.stderr.String())
	default:
	}
}

// -b: the first process returns 0 once the daemon watches; the daemon, in
// a session of its own, keeps mirroring and its pid is in the pid file.
func TestBackground(t *testing.T) {
	needRsync(t)
	src, dst := tempTree(t)
	pid := filepath.Join(t.TempDir(), "pid")
	a := startAgent(t, "-Mrsyncdirect", "-W", src, "-D", dst, "-w0", "-t0", "-b", "-z", pid)
	if code := a.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, a.stderr.String())
	}
	b, err := os.ReadFile(pid)
	if err != nil {
		t.Fatal(err)
	}
	daemon, _ := strconv.Atoi(string(b))
	if daemon <= 0 || daemon == a.cmd.Process.Pid {
		t.Fatalf("pid file holds %q", b)
	}
	t.Cleanup(func() { syscall.Kill(daemon, syscall.SIGKILL) })
	if sid, _ := unix.Getsid(daemon); sid != daemon {
		t.Errorf("daemon session %d, want its own (%d)", sid, daemon)
	}
	os.WriteFile(filepath.Join(src, "after-detach"), nil, 0o644)
	waitFor(t, "the daemon to sync", func() bool { return exists(filepath.Join(dst, "after-detach")) })
	syscall.Kill(daemon, syscall.SIGTERM)
	waitFor(t, "the daemon to exit", func() bool { return !exists(pid) })
}

// -b when the daemon fails to start (here: its pid file cannot be
// written): the error reaches the terminal once, and the exit code is the
// daemon's.
func TestBackgroundFailure(t *testing.T) {
	needRsync(t)
	src, dst := tempTree(t)
	a := startAgent(t, "-Mrsyncdirect", "-W", src, "-D", dst, "-b", "-z", filepath.Join(t.TempDir(), "missing", "pid"))
	if code := a.wait(t, 10*time.Second); code != 2 {
		t.Fatalf("exit %d: %s", code, a.stderr.String())
	}
	if got := strings.Count(a.stderr.String(), "clsync:"); got != 1 {
		t.Errorf("%d error lines, want 1: %q", got, a.stderr.String())
	}
}

// --modification-signature uid,gid: a handler that chowns what it syncs
// is not started again by the events its own chown causes.
func TestModificationSignatureStopsSelfTriggering(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown to another user needs root")
	}
	src, dst := tempTree(t)
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	script := filepath.Join(dir, "handler")
	os.WriteFile(script, []byte("#!/bin/sh\necho run >> "+runs+"\nchown -R 65534:65534 "+src+"\n"), 0o755)
	count := func() int {
		b, _ := os.ReadFile(runs)
		return strings.Count(string(b), "\n")
	}
	startAgent(t, "-Mrsyncdirect", "-W", src, "-D", dst, "-S", script, "-w0", "-t0", "--modification-signature", "uid,gid")
	waitFor(t, "the initial sync", func() bool { return count() >= 1 })
	// Each new file is one change: its sync chowns it, and that chown's
	// own event may cost one more run, which changes nothing. A handler
	// re-triggered by its own changes would run on and on instead.
	synced := func(name string) func() bool {
		return func() bool {
			var st syscall.Stat_t
			return syscall.Lstat(filepath.Join(src, name), &st) == nil && st.Uid == 65534
		}
	}
	prev := count()
	for i := range 5 {
		name := fmt.Sprintf("new%d", i)
		os.WriteFile(filepath.Join(src, name), []byte("n"), 0o644)
		waitFor(t, "the sync of "+name, synced(name))
		// The next file's sync proves that the runs of this one are over.
		if i > 0 && count()-prev > 3 {
			t.Fatalf("%d handler runs for one new file: its own chown keeps triggering it", count()-prev)
		}
		prev = count()
	}
}

// -X: what is mounted below the watch dir stays out of the mirror.
func TestExcludeMountPoints(t *testing.T) {
	needRsync(t)
	src, dst := tempTree(t)
	mnt := filepath.Join(src, "mnt point")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, ""); err != nil {
		t.Skipf("cannot mount tmpfs: %v", err)
	}
	defer syscall.Unmount(mnt, syscall.MNT_DETACH)
	os.WriteFile(filepath.Join(mnt, "other-fs"), nil, 0o644)
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"-H", "/NULL/", "-Mrsyncdirect", "-W", src, "-D", dst, "-X", "--only-initialsync"}, &bytes.Buffer{}, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !exists(filepath.Join(dst, "seed")) {
		t.Fatal("the tree was not synced")
	}
	if exists(filepath.Join(dst, "mnt point", "other-fs")) {
		t.Error("a file on the mount below the watch dir was synced")
	}
}

// Signal 29 dumps the instance's state into --dump-dir.
func TestDumpSignal(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
	}{{"one process", nil}, {"split: the helper writes it", []string{"--splitting=process"}}} {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.extra) > 0 && os.Geteuid() != 0 {
				t.Skip("the split worker runs as nobody: needs root")
			}
			needRsync(t)
			src, dst := tempTree(t)
			dump := filepath.Join(t.TempDir(), "dump")
			status := filepath.Join(t.TempDir(), "status")
			a := startAgent(t, append([]string{"-Mrsyncdirect", "-W", src, "-D", dst, "-w0", "-t0", "--dump-dir", dump, "-l", "dumped", "--status-file", status}, tc.extra...)...)
			waitFor(t, "status running", func() bool {
				b, _ := os.ReadFile(status)
				return string(b) == "running"
			})
			a.signal(t, syscall.Signal(29))
			waitFor(t, "the dump; log: "+a.stderr.String(), func() bool { return exists(filepath.Join(dump, "watches")) })
			for name, want := range map[string]string{"label": "dumped\n", "watches": "1\n", "status": "running\n",
				"pid": strconv.Itoa(a.cmd.Process.Pid) + "\n"} {
				if b, _ := os.ReadFile(filepath.Join(dump, name)); string(b) != want {
					t.Errorf("dump %s = %q, want %q", name, b, want)
				}
			}
		})
	}
}

// --custom-signals: signal 28 switches to config block "b"; the mirror
// goes on, with the same pid.
func TestCustomSignals(t *testing.T) {
	needRsync(t)
	src, dst := tempTree(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "clsync.conf")
	os.WriteFile(conf, []byte("[a]\nmode = rsyncdirect\nwatch-dir = "+src+"\ndestination-dir = "+dst+
		"\ndelay-sync = 0\ndelay-collect = 0\nlabel = first\ndump-dir = "+dir+"/dump-%label%\ncustom-signals = 28:b\n"+
		"status-file = "+dir+"/status-%label%\n"+
		"[b]\nconfig-block-inherits = a\nlabel = second\n"), 0o644)
	a := startAgentConf(t, conf, "-K", "a", "-z", filepath.Join(dir, "pid"))
	waitFor(t, "the initial sync", func() bool { return exists(filepath.Join(dst, "seed")) })
	a.signal(t, syscall.Signal(28))
	// The new block's label names the new status file.
	waitFor(t, "block b running", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "status-second"))
		return string(b) == "running"
	})
	a.signal(t, syscall.Signal(29))
	waitFor(t, "the dump", func() bool { return exists(filepath.Join(dir, "dump-second", "pid")) })
	if b, _ := os.ReadFile(filepath.Join(dir, "dump-second", "pid")); string(b) != strconv.Itoa(a.cmd.Process.Pid)+"\n" {
		t.Errorf("pid changed: %q", b)
	}
	os.WriteFile(filepath.Join(src, "after-switch"), nil, 0o644)
	waitFor(t, "a sync after the switch", func() bool { return exists(filepath.Join(dst, "after-switch")) })
}

// A handler and hooks given by paths relative to where clsync starts run
// from there, though handlers run in the watch dir (-S ./h failed at sync
// time after passing validation).
func TestRelativeHandlerAndHookPaths(t *testing.T) {
	needRsync(t)
	src, dst := tempTree(t)
	dir := t.TempDir()
	record := filepath.Join(dir, "record")
	os.WriteFile(filepath.Join(dir, "h"), []byte("#!/bin/sh\necho handler >> "+record+"\nexec rsync \"$@\"\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "pre"), []byte("#!/bin/sh\necho pre >> "+record+"\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "post"), []byte("#!/bin/sh\necho post >> "+record+"\n"), 0o755)
	cmd := exec.Command(os.Args[0], "-H", "/NULL/", "-Mrsyncdirect", "-W", src, "-D", dst, "-S", "./h",
		"--pre-exit-hook", "./pre", "--exit-hook", "./post", "-w0", "-t0", "--exit-on-no-events")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CLSYNC_TEST_AS_MAIN=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	got, _ := os.ReadFile(record)
	if !strings.HasPrefix(string(got), "handler\n") || !strings.HasSuffix(string(got), "pre\npost\n") {
		t.Errorf("runs %q, want the handler, then the pre-exit hook and the exit hook", got)
	}
	if diffs, err := treecmp.Diff(src, dst); err != nil || len(diffs) != 0 {
		t.Errorf("not a mirror: %v %v", err, diffs)
	}
}
