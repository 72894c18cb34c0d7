package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clsync-go/clsync/api"
	"github.com/clsync-go/clsync/internal/treecmp"
)

// runCtl runs `clsync ctl ARGS` as a process of its own.
func runCtl(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"ctl"}, args...)...)
	cmd.Env = append(os.Environ(), "CLSYNC_TEST_AS_MAIN=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// mustCtl runs `clsync ctl ARGS`, which must succeed.
func mustCtl(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := runCtl(t, args...)
	if code != 0 {
		t.Fatalf("clsync ctl %s: exit %d: %s", strings.Join(args, " "), code, errs)
	}
	return out
}

// status reads the agent's JSON status through the Go client.
func status(t *testing.T, sock string) api.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := api.Dial(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// treesEqual tells whether dst equals src now.
func treesEqual(t *testing.T, src, dst string) bool {
	t.Helper()
	diffs, err := treecmp.Diff(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	return len(diffs) == 0
}

// ctlAgent starts a mirror with a control socket and waits for its
// initial sync; it returns the socket's path.
func ctlAgent(t *testing.T, src, dst string, extra ...string) (*agentProc, string) {
	t.Helper()
	needRsync(t)
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	a := startAgent(t, append([]string{"-Mrsyncdirect", "-W", src, "-D", dst, "-w0", "-s", sock}, extra...)...)
	waitFor(t, "the control socket", func() bool { return exists(sock) })
	waitFor(t, "the initial sync", func() bool { return status(t, sock).Initial.Done })
	if !treesEqual(t, src, dst) {
		t.Fatal("initial sync done, trees differ")
	}
	return a, sock
}

func TestControlVerbsActOnTheTree(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"one process", nil},
		{"split: the confined worker serves it", []string{"--splitting=process", "--seccomp-filter"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.extra) > 0 && os.Geteuid() != 0 {
				t.Skip("the split worker runs as nobody: needs root")
			}
			controlVerbs(t, tc.extra...)
		})
	}
}

func controlVerbs(t *testing.T, extra ...string) {
	src, dst := tempTree(t)
	// An hour's collect delay: only flush syncs.
	a, sock := ctlAgent(t, src, dst, append([]string{"-t3600"}, extra...)...)

	// The status follows the tree.
	sh(t, src, "mkdir -p d/e && echo 1 > d/e/f && echo 2 > g")
	waitFor(t, "the changes in the status", func() bool {
		st := status(t, sock)
		return st.Queues["normal"] >= 2 && st.PathsPending >= 2 && st.OldestPendingSeconds >= 0 && st.State == "running"
	})
	if treesEqual(t, src, dst) {
		t.Fatal("synced before the collect delay")
	}
	// flush returns once the destination has it.
	mustCtl(t, "-s", sock, "flush")
	if !treesEqual(t, src, dst) {
		t.Fatal("flush returned, trees differ")
	}
	if st := status(t, sock); st.PathsPending != 0 || st.LastSync == nil || !st.LastSync.OK || st.Syncs < 2 {
		t.Fatalf("status after flush: %+v", st)
	}

	// pause holds syncing, flush refuses (EBUSY), resume lets it go.
	mustCtl(t, "-s", sock, "pause")
	sh(t, src, "echo 3 > held")
	waitFor(t, "the held change queued", func() bool { st := status(t, sock); return st.Paused && st.PathsPending >= 1 })
	if code, _, errs := runCtl(t, "-s", sock, "flush"); code != int(syscall.EBUSY) || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "paused") {
		t.Fatalf("flush while paused: exit %d: %q", code, errs)
	}
	if code, _, _ := runCtl(t, "-s", sock, "wait-idle"); code != int(syscall.EBUSY) {
		t.Fatalf("wait-idle while paused with changes held: exit %d", code)
	}
	if exists(filepath.Join(dst, "held")) {
		t.Fatal("synced while paused")
	}
	mustCtl(t, "-s", sock, "resume")
	mustCtl(t, "-s", sock, "flush")
	if !treesEqual(t, src, dst) {
		t.Fatal("flush after resume returned, trees differ")
	}

	// resync repairs a destination changed behind the agent's back.
	os.Remove(filepath.Join(dst, "g"))
	mustCtl(t, "-s", sock, "resync")
	mustCtl(t, "-s", sock, "wait-idle")
	if !treesEqual(t, src, dst) {
		t.Fatal("resync and wait-idle returned, trees differ")
	}
	out := mustCtl(t, "-s", sock, "status")
	for _, want := range []string{"state:", " 0 paths (", "last sync:", " ok, took ", "done in"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	select {
	case <-a.exited:
		t.Fatalf("exited with %d: %s", a.code, a.stderr)
	default:
	}
}

// wait-idle is the barrier a deploy script needs: when it returns, every
// change made before it is on the destination.
func TestControlWaitIdle(t *testing.T) {
	src, dst := tempTree(t)
	_, sock := ctlAgent(t, src, dst, "-t1")
	for round := range 3 {
		sh(t, src, fmt.Sprintf("mkdir -p r%d/a/b && for i in $(seq 50); do echo $i > r%d/a/b/f$i; done && rm -f r%d/a/b/f7", round, round, round))
		mustCtl(t, "-s", sock, "wait-idle", "--timeout", "60s")
		if !treesEqual(t, src, dst) {
			t.Fatalf("round %d: wait-idle returned, trees differ", round)
		}
	}
}

func TestControlDieAndDump(t *testing.T) {
	src, dst := tempTree(t)
	a, sock := ctlAgent(t, src, dst, "-t0", "-l", "dumped")
	c, err := api.Dial(t.Context(), sock)
	if err != nil {
		t.Fatal(err)
	}
	dump := filepath.Join(t.TempDir(), "dump")
	if err := c.Dump(t.Context(), dump); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dump, "label")); string(b) != "dumped\n" {
		t.Errorf("dump label %q", b)
	}
	if err := c.Die(t.Context()); err != nil {
		t.Fatal(err)
	}
	if code := a.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("die: exit %d: %s", code, a.stderr)
	}
	if exists(sock) {
		t.Error("the socket outlived the agent")
	}
}

// With --splitting the helper writes dumps to --dump-dir only.
func TestControlSplitDumpStaysInDumpDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the split worker runs as nobody: needs root")
	}
	src, dst := tempTree(t)
	dumpDir := filepath.Join(t.TempDir(), "dump")
	_, sock := ctlAgent(t, src, dst, "-t0", "--splitting=process", "--dump-dir", dumpDir)
	c, err := api.Dial(t.Context(), sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	elsewhere := t.TempDir()
	if err := c.Dump(t.Context(), elsewhere); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("dump elsewhere: %v", err)
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Fatal("the dump went elsewhere")
	}
	if err := c.Dump(t.Context(), dumpDir); err != nil || !exists(filepath.Join(dumpDir, "status")) {
		t.Fatalf("dump to --dump-dir: %v", err)
	}
}

func TestControlBadInput(t *testing.T) {
	needRsync(t)
	src, dst := tempTree(t)
	missing := filepath.Join(t.TempDir(), "no", "such", "sock")
	a := startAgent(t, "-Mrsyncdirect", "-W", src, "-D", dst, "-s", missing)
	if code := a.wait(t, 20*time.Second); code != int(syscall.ENOENT) || strings.Count(a.stderr.String(), "\n") != 1 || !strings.Contains(a.stderr.String(), missing) {
		t.Fatalf("socket in a missing directory: exit %d: %q", code, a.stderr)
	}
	if exists(filepath.Join(dst, "seed")) {
		t.Fatal("the agent synced with a bad socket path")
	}

	// A live agent's socket is refused, a stale one replaced.
	_, sock := ctlAgent(t, src, dst, "-t0")
	src2, dst2 := tempTree(t)
	b := startAgent(t, "-Mrsyncdirect", "-W", src2, "-D", dst2, "-s", sock)
	if code := b.wait(t, 20*time.Second); code != int(syscall.EADDRINUSE) || strings.Count(b.stderr.String(), "\n") != 1 || !strings.Contains(b.stderr.String(), "another agent serves it") {
		t.Fatalf("socket of a live agent: exit %d: %q", code, b.stderr)
	}
	if st := status(t, sock); st.WatchDir != src {
		t.Fatalf("the live agent lost its socket: %+v", st)
	}
	stale := filepath.Join(t.TempDir(), "stale.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if code, _, errs := runCtl(t, "-s", stale, "status"); code != int(syscall.ECONNREFUSED) || strings.Count(errs, "\n") != 1 {
		t.Fatalf("ctl on a stale socket: exit %d: %q", code, errs)
	}
	startAgent(t, "-Mrsyncdirect", "-W", src2, "-D", dst2, "-w0", "-s", stale)
	waitFor(t, "the stale socket replaced", func() bool {
		code, _, _ := runCtl(t, "-s", stale, "status")
		return code == 0
	})

	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"status"}, int(syscall.EINVAL)},
		{[]string{"-s", sock}, int(syscall.EINVAL)},
		{[]string{"-s", sock, "explode"}, int(syscall.EINVAL)},
		{[]string{"-s", sock, "--json", "flush"}, int(syscall.EINVAL)},
		{[]string{"-s", missing, "status"}, int(syscall.ENOENT)},
	} {
		if code, _, errs := runCtl(t, c.args...); code != c.code || strings.Count(errs, "\n") != 1 {
			t.Errorf("ctl %q: exit %d, want %d: %q", c.args, code, c.code, errs)
		}
	}
	if code, out, _ := runCtl(t, "--help"); code != 0 || !strings.Contains(out, "wait-idle") {
		t.Errorf("ctl --help: exit %d: %q", code, out)
	}
}

// The socket's mode and owner are what --socket-mod and --socket-own say,
// 0600 by default; a user without write permission cannot connect.
func TestControlSocketModeAndOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to change owners")
	}
	needRsync(t)
	src, dst := tempTree(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	sock := filepath.Join(dir, "sock")
	startAgent(t, "-Mrsyncdirect", "-W", src, "-D", dst, "-w0", "-s", sock, "--socket-mod", "0660", "--socket-own", "nobody:nogroup")
	waitFor(t, "the control socket", func() bool { return exists(sock) })
	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o660 || st.Uid != 65534 {
		t.Fatalf("socket mode %v owner %d, want 0660 nobody", fi.Mode().Perm(), st.Uid)
	}

	sock2 := filepath.Join(dir, "sock2")
	src2, dst2 := tempTree(t)
	startAgent(t, "-Mrsyncdirect", "-W", src2, "-D", dst2, "-w0", "-s", sock2)
	waitFor(t, "the control socket", func() bool { return exists(sock2) })
	// As nobody: no write permission on a 0600 root socket. nobody runs
	// a copy of us: the test binary's directory is root's alone.
	pub, err := os.MkdirTemp("", "clsync-ctl-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(pub)
	os.Chmod(pub, 0o755)
	bin := filepath.Join(pub, "clsync")
	if b, err := os.ReadFile(os.Args[0]); err != nil || os.WriteFile(bin, b, 0o755) != nil {
		t.Fatalf("copy the test binary: %v", err)
	}
	cmd := exec.Command(bin, "ctl", "-s", sock2, "status")
	cmd.Env = append(os.Environ(), "CLSYNC_TEST_AS_MAIN=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != int(syscall.EACCES) {
		t.Fatalf("nobody on a 0600 root socket: exit %d: %s", code, out)
	}
}

// clsync 0.4.5's own answers beside ours, where Debian's clsync is
// installed (make test installs it): the same bytes for the same requests,
// except where clsync's are not sane (README, "Control socket").
func TestControlProtocolAsClsync(t *testing.T) {
	clsync, err := exec.LookPath("/usr/bin/clsync")
	if err != nil {
		t.Skip("Debian's clsync is not installed")
	}
	needRsync(t)
	// A dump into a new directory, then into one that exists (EEXIST).
	newDir := func() string { return filepath.Join(t.TempDir(), "dump") }
	existing := t.TempDir()
	requests := []string{"1 0 0", "2 1 0", "3 0 1", "4 999", "5 1000", "6 210", "", "8 202 " + existing, "9 250"}
	talk := func(sock string) []string {
		var c net.Conn
		waitFor(t, "the control socket "+sock, func() bool {
			var err error
			c, err = net.Dial("unix", sock)
			return err == nil
		})
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		r := bufio.NewReader(c)
		var got []string
		line, _ := r.ReadString('\n')
		got = append(got, line)
		for _, req := range requests {
			if req == "" {
				req = "7 202 " + newDir()
			}
			io.WriteString(c, req+"\n")
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("%s: %q: %v", sock, req, err)
			}
			got = append(got, line)
		}
		if _, err := r.ReadString('\n'); !errors.Is(err, io.EOF) {
			t.Errorf("%s: the connection stays open after quit", sock)
		}
		return got
	}
	src, dst := tempTree(t)
	theirs := filepath.Join(t.TempDir(), "clsync.sock")
	cmd := exec.Command(clsync, "-Mrsyncdirect", "-W", src, "-D", dst, "-s", theirs, "-u0", "-g0", "-w0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	want := talk(theirs)

	src2, dst2 := tempTree(t)
	_, ours := ctlAgent(t, src2, dst2)
	got := talk(ours)
	// Our error text says more than strerror: the errno must agree.
	errnoOnly := 8
	for i := range want {
		if i == errnoOnly {
			prefix := "8 199 sync_dump\x03/ " + existing + "\x03/ 17 "
			if !strings.HasPrefix(want[i], prefix) || !strings.HasPrefix(got[i], prefix) {
				t.Errorf("reply %d: clsync says %q, we say %q, want both to start %q", i, want[i], got[i], prefix)
			}
			continue
		}
		if got[i] != want[i] {
			t.Errorf("reply %d: clsync says %q, we say %q", i, want[i], got[i])
		}
	}
}
