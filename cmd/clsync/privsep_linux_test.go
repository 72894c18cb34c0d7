package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clsync-go/clsync/internal/proctest"
	"github.com/clsync-go/clsync/internal/treecmp"
	"github.com/clsync-go/clsync/privsep/caps"
	"github.com/clsync-go/clsync/privsep/split"
)

// rootOnlyTree is a source tree nobody but root may read (0700), and its
// destination.
func rootOnlyTree(t *testing.T) (src, dst string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("privilege separation tests need root")
	}
	needRsync(t)
	src, dst = tempTree(t)
	if err := os.Chmod(src, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(src, "a", "b"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "a", "secret"), []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	return src, dst
}

func waitTreesEqual(t *testing.T, a *agentProc, src, dst string) {
	t.Helper()
	waitFor(t, "destination equal to source", func() bool {
		select {
		case <-a.exited:
			t.Fatalf("clsync exited with %d: %s", a.code, a.stderr)
		default:
		}
		diffs, err := treecmp.Diff(src, dst)
		return err == nil && len(diffs) == 0
	})
}

// workerOf finds the worker process the helper pid started.
func workerOf(t *testing.T, helper int) int {
	t.Helper()
	var pid int
	waitFor(t, "the worker process", func() bool {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			p, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			args := strings.Split(string(cmdline), "\x00")
			stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
			fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
			if len(args) > 1 && args[1] == split.WorkerCommand && len(fields) > 2 && fields[1] == strconv.Itoa(helper) {
				pid = p
				return true
			}
		}
		return false
	})
	return pid
}

// checkThreads asserts want on every thread of pid.
func checkThreads(t *testing.T, who string, pid int, check func(th proctest.Thread) string) {
	t.Helper()
	threads, err := proctest.Threads(pid)
	if err != nil {
		t.Fatal(err)
	}
	if len(threads) == 0 {
		t.Fatalf("%s: no threads", who)
	}
	for _, th := range threads {
		if bad := check(th); bad != "" {
			t.Errorf("%s thread %d (%s): %s: %+v", who, th.TID, th.Name, bad, th)
		}
	}
	t.Logf("%s: %d threads checked", who, len(threads))
}

func ids4(id uint32) [4]uint32 { return [4]uint32{id, id, id, id} }

func TestSplitMirrorsAndConfines(t *testing.T) {
	src, dst := rootOnlyTree(t)
	a := startAgent(t, "-Mrsyncdirect", "-S", "rsync", "-W", src, "-D", dst, "-w0", "-t0", "-T0", "--splitting=process", "--seccomp-filter")
	waitTreesEqual(t, a, src, dst)
	sh(t, src, "mkdir -p c/d && echo x > c/d/f && mv a/b c/b2 && rm a/secret && echo y > top")
	waitTreesEqual(t, a, src, dst)

	helper := a.cmd.Process.Pid
	worker := workerOf(t, helper)
	readTree := uint64(1) << caps.CAP_DAC_READ_SEARCH
	checkThreads(t, "worker", worker, func(th proctest.Thread) string {
		switch {
		case th.Uid != ids4(65534) || th.Gid != ids4(65534):
			return "not nobody:nogroup (real, effective, saved, fs)"
		case len(th.Groups) != 0:
			return "supplementary groups kept"
		case th.CapPrm != readTree || th.CapEff != readTree || th.CapBnd != readTree || th.CapAmb != 0 || th.CapInh != 0:
			return "capabilities beyond CAP_DAC_READ_SEARCH"
		case th.NoNewPrivs != 1:
			return "no_new_privs not set"
		case th.Seccomp != 2:
			return "no seccomp filter"
		}
		return ""
	})
	checkThreads(t, "helper", helper, func(th proctest.Thread) string {
		switch {
		case th.Uid != ids4(0):
			return "helper is not the privileged uid 0"
		case th.CapEff != uint64(caps.Default) || th.CapPrm != uint64(caps.Default):
			return "helper capabilities are not -C's default"
		case th.CapBnd&^uint64(caps.Default|caps.RootHandler) != 0:
			return "helper bounding set wider than -C and a root handler's needs"
		}
		return ""
	})
	for _, ns := range []string{"ipc", "uts"} {
		h, _ := os.Readlink("/proc/" + strconv.Itoa(helper) + "/ns/" + ns)
		w, _ := os.Readlink("/proc/" + strconv.Itoa(worker) + "/ns/" + ns)
		if h == "" || h == w {
			t.Errorf("worker shares the helper's %s namespace (%s)", ns, h)
		}
	}
	a.signal(t, syscall.SIGTERM)
	if code := a.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, a.stderr)
	}
	if alive(worker) {
		t.Error("the worker outlived the helper")
	}
}

// recordingHandler is a handler that prints the status of each of its
// threads on stderr (a sandboxed handler may write nowhere else), then
// mirrors with rsync (the rsyncshell calling convention: "rsynclist LABEL
// INCLUDE-LIST [EXCLUDE-LIST]").
func recordingHandler(t *testing.T, dir, src, dst string) string {
	t.Helper()
	script := filepath.Join(dir, "handler")
	body := "#!/bin/sh\nfor task in /proc/$$/task/*; do echo '==status'; cat $task/status; echo '==end'; done >&2\n" +
		"echo \"==ns $(readlink /proc/$$/ns/net) $(readlink /proc/$$/ns/ipc) $(readlink /proc/$$/ns/uts)\" >&2\n" +
		"exec rsync -a --delete --exclude-from=\"$4\" --include-from=\"$3\" --exclude='*' " + src + "/ " + dst + "/\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script
}

// handlerThreads reads the thread states the recording handlers printed.
func handlerThreads(t *testing.T, log string) []proctest.Thread {
	t.Helper()
	var threads []proctest.Thread
	for _, chunk := range strings.Split(log, "==status\n")[1:] {
		status, _, _ := strings.Cut(chunk, "==end")
		th, err := proctest.Parse([]byte(status))
		if err != nil {
			t.Fatalf("%v in %q", err, status)
		}
		threads = append(threads, th)
	}
	if len(threads) == 0 {
		t.Fatalf("the handler printed no status: %s", log)
	}
	return threads
}

func TestSplitHandlerIdentity(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
		check func(th proctest.Thread) string
	}{
		{"root handler keeps what mirroring needs", nil, func(th proctest.Thread) string {
			if th.Uid != ids4(0) || th.CapBnd&^uint64(caps.RootHandler) != 0 || th.CapEff&^uint64(caps.RootHandler) != 0 {
				return "a root handler with more than caps.RootHandler"
			}
			return ""
		}},
		{"handler as nobody", []string{"--sync-handler-uid=65534", "--sync-handler-gid=65534"}, func(th proctest.Thread) string {
			if th.Uid != ids4(65534) || th.Gid != ids4(65534) || th.CapEff != 0 || th.CapPrm != 0 || th.CapAmb != 0 {
				return "not an unprivileged nobody"
			}
			return ""
		}},
		{"sandboxed handler in namespaces of its own", []string{"--landlock", "--detach-network=everywhere", "--detach-miscellanea"}, func(th proctest.Thread) string {
			if th.Uid != ids4(0) || th.CapBnd&^uint64(caps.RootHandler) != 0 || th.CapEff&^uint64(caps.RootHandler) != 0 {
				return "not confined"
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := rootOnlyTree(t)
			dir := t.TempDir()
			os.Chmod(dir, 0o777)
			os.Chmod(filepath.Dir(dir), 0o755)
			if len(tc.extra) > 0 && tc.extra[0] == "--sync-handler-uid=65534" {
				// nobody mirrors into a tree it owns, from one it can read.
				os.Chmod(src, 0o755)
				sh(t, src, "chmod -R a+rX . && chown -R 65534:65534 "+dst)
				os.Chmod(filepath.Dir(src), 0o755)
			}
			args := append([]string{"-Mrsyncshell", "-S", recordingHandler(t, dir, src, dst), "-W", src, "-D", dst,
				"-w0", "-t0", "-T0", "--splitting=process"}, tc.extra...)
			a := startAgent(t, args...)
			waitTreesEqual(t, a, src, dst)
			a.signal(t, syscall.SIGTERM)
			a.wait(t, 10*time.Second)
			log := a.stderr.String()
			if strings.Contains(tc.name, "namespaces") {
				for _, ns := range []string{"net", "ipc", "uts"} {
					ours, _ := os.Readlink("/proc/self/ns/" + ns)
					if !strings.Contains(log, "==ns ") || strings.Contains(log, ours) {
						t.Errorf("the handler shares our %s namespace %s: %s", ns, ours, log)
					}
				}
			}
			for _, th := range handlerThreads(t, log) {
				if bad := tc.check(th); bad != "" {
					t.Errorf("handler thread %s: %s: %+v", th.Name, bad, th)
				}
			}
		})
	}
}

// A hostile handler under --secure-splitting --landlock, running as
// nobody: every escape it tries is refused, while its rsync mirrors.
func TestLandlockHostileHandler(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 tries the network and privilege escapes")
	}
	src, dst := rootOnlyTree(t)
	os.Chmod(filepath.Dir(src), 0o755)
	os.Chmod(src, 0o755)
	sh(t, src, "chmod -R a+rX . && chown -R 65534:65534 . "+dst)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	// Not beside the handler: its own directory is readable to it.
	secret := filepath.Join(t.TempDir(), "secret")
	os.Chmod(filepath.Dir(secret), 0o755)
	os.WriteFile(secret, []byte("s"), 0o644)
	outside := filepath.Join(dir, "outside")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
			accepted <- struct{}{}
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	script := filepath.Join(dir, "handler")
	body := `#!/bin/sh
try() { if "$@" >/dev/null 2>&1; then echo "HOSTILE-ALLOWED: $*" >&2; else echo "hostile-refused: $*" >&2; fi; }
try sh -c "echo x > ` + outside + `"
try sh -c "echo x > /tmp/clsync-hostile-$$"
try cat ` + secret + `
try chmod 777 ` + src + `/seed
try touch -d 2001-01-01 ` + src + `/seed
try sh -c "echo x > ` + src + `/pwned"
try python3 -c "import socket; socket.create_connection(('127.0.0.1', ` + port + `), 2)"
try python3 -c "import os; os.setuid(0)"
try python3 -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)"
exec rsync -a --delete --exclude-from="$4" --include-from="$3" --exclude='*' ` + src + `/ ` + dst + `/
`
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(filepath.Join(src, "seed"))
	a := startAgent(t, "-Mrsyncshell", "-S", script, "-W", src, "-D", dst, "-w0", "-t0", "-T0",
		"--secure-splitting", "--landlock", "--sync-handler-uid=65534", "--sync-handler-gid=65534")
	waitTreesEqual(t, a, src, dst)
	a.signal(t, syscall.SIGTERM)
	a.wait(t, 10*time.Second)
	log := a.stderr.String()
	if strings.Contains(log, "HOSTILE-ALLOWED") || strings.Count(log, "hostile-refused") < 9 {
		t.Errorf("the handler's escapes were not all refused:\n%s", log)
	}
	for _, p := range []string{outside, filepath.Join(src, "pwned")} {
		if exists(p) {
			t.Errorf("the handler wrote %s", p)
		}
	}
	if after, _ := os.Stat(filepath.Join(src, "seed")); after.Mode() != before.Mode() || !after.ModTime().Equal(before.ModTime()) {
		t.Error("the handler changed the source's metadata")
	}
	select {
	case <-accepted:
		t.Error("the handler connected to 127.0.0.1")
	default:
	}
}
