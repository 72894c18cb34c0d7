package main

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clsync-go/clsync/internal/testlog"
	"github.com/clsync-go/clsync/internal/treecmp"
)

// clsyncOnPath puts a "clsync" on PATH that runs this test binary as the
// program, so the example scripts run as a user would run them.
func clsyncOnPath(t *testing.T) []string {
	t.Helper()
	bin := t.TempDir()
	wrapper := "#!/bin/sh\nCLSYNC_TEST_AS_MAIN=1 exec " + os.Args[0] + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "clsync"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "HOME="+t.TempDir())
}

func examplePath(name string) string { return filepath.Join("..", "..", "examples", name) }

// examples/oneshot: the documented one-shot sync, without -D.
func TestExampleOneShot(t *testing.T) {
	needRsync(t)
	src, dst := tempTree(t)
	writeTree(t, src, 4, 4)
	cmd := exec.Command(examplePath("oneshot/atomic-sync.sh"), src, dst)
	cmd.Env = clsyncOnPath(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if diffs, err := treecmp.Diff(src, dst); err != nil || len(diffs) != 0 {
		t.Fatalf("not a mirror: %v %v", err, diffs)
	}
}

// examples/chown: files root creates under the web root become
// www-data's; a file of another user is left alone.
func TestExampleChown(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the chown example runs as root")
	}
	u, err := user.Lookup("www-data")
	if err != nil {
		t.Skip("no www-data user")
	}
	wwwData, _ := strconv.Atoi(u.Uid)
	root := t.TempDir()
	other := filepath.Join(root, "someone-elses")
	os.WriteFile(other, nil, 0o644)
	os.Chown(other, 65534, 65534)
	cmd := exec.Command(examplePath("chown/fix-ownership.sh"), root)
	cmd.Env = clsyncOnPath(t)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	log := &testlog.Buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		cmd.Wait()
	})
	// Whether these land before or after the initial sync, one of the two
	// hands them over.
	created := time.Now()
	os.MkdirAll(filepath.Join(root, "uploads", "2026"), 0o755)
	os.WriteFile(filepath.Join(root, "uploads", "2026", "photo.jpg"), []byte("jpg"), 0o644)
	os.WriteFile(filepath.Join(root, "index.html"), []byte("<html>"), 0o644)
	owned := func(p string) bool {
		var st syscall.Stat_t
		return syscall.Lstat(filepath.Join(root, p), &st) == nil && int(st.Uid) == wwwData
	}
	waitFor(t, "www-data to own the new files; log: "+log.String(), func() bool {
		return owned("uploads") && owned("uploads/2026") && owned("uploads/2026/photo.jpg") && owned("index.html")
	})
	t.Logf("new files owned by www-data %s after they were created", time.Since(created).Round(time.Millisecond))
	var st syscall.Stat_t
	if err := syscall.Lstat(other, &st); err != nil || st.Uid != 65534 {
		t.Errorf("a file of another user was touched: uid %d (%v)", st.Uid, err)
	}
}

// examples/rsyncshell: the handler script mirrors a tree, renames and
// removals included.
func TestExampleRsyncShellHandler(t *testing.T) {
	needRsync(t)
	src, dst := tempTree(t)
	writeTree(t, src, 3, 3)
	handler, err := filepath.Abs(examplePath("rsyncshell/handler.sh"))
	if err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, "-Mrsyncshell", "-S", handler, "-W", src, "-D", dst, "-w0", "-t0", "-T0",
		"--", "rsynclist", "%label%", "%INCLUDE-LIST-PATH%", "%EXCLUDE-LIST-PATH%", "%destination-dir%")
	mirrored := func() bool {
		diffs, err := treecmp.Diff(src, dst)
		return err == nil && len(diffs) == 0
	}
	waitFor(t, "the initial sync; log: "+a.stderr.String(), mirrored)
	os.Rename(filepath.Join(src, "d001"), filepath.Join(src, "renamed"))
	os.RemoveAll(filepath.Join(src, "d002"))
	os.WriteFile(filepath.Join(src, "renamed", "new"), []byte("n"), 0o644)
	waitFor(t, "the changes", mirrored)
}

// examples/systemd: the unit's ExecStart, with %i and the paths of this
// machine, runs a mirror of that config block and stops cleanly on the
// unit's KillSignal; the exit codes it will not restart on are ours.
func TestExampleSystemdUnit(t *testing.T) {
	needRsync(t)
	unit, err := os.ReadFile(examplePath("systemd/clsync@.service"))
	if err != nil {
		t.Fatal(err)
	}
	var execStart string
	for _, line := range strings.Split(string(unit), "\n") {
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			execStart = v
		}
		if v, ok := strings.CutPrefix(line, "RestartPreventExitStatus="); ok && v != "2 13 22" {
			t.Errorf("RestartPreventExitStatus=%s, want our exit codes for bad input: 2 13 22", v)
		}
	}
	if !strings.Contains(string(unit), "KillSignal=SIGQUIT") {
		t.Fatal("the unit does not stop with SIGQUIT")
	}
	src, dst := tempTree(t)
	conf := filepath.Join(t.TempDir(), "clsync.conf")
	os.WriteFile(conf, []byte("[default]\nmode = rsyncdirect\ndelay-sync = 0\ndelay-collect = 0\n\n[web]\nconfig-block-inherits = default\nwatch-dir = "+src+"\ndestination-dir = "+dst+"\n"), 0o644)
	argv := strings.Fields(strings.NewReplacer("%i", "web", "/etc/clsync/clsync.conf", conf).Replace(execStart))
	if argv[0] != "/usr/local/bin/clsync" {
		t.Fatalf("ExecStart runs %s", argv[0])
	}
	cmd := exec.Command(os.Args[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "CLSYNC_TEST_AS_MAIN=1")
	log := &testlog.Buffer{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the mirror; log: "+log.String(), func() bool { return exists(filepath.Join(dst, "seed")) })
	cmd.Process.Signal(syscall.SIGQUIT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("stop with SIGQUIT: %v; log: %s", err, log.String())
	}
}

// The unit passes systemd's own check, warnings included, with the
// binary's path made one that exists here.
func TestExampleSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("no systemd-analyze (Debian's systemd package)")
	}
	unit, err := os.ReadFile(examplePath("systemd/clsync@.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Type=notify", "WatchdogSec=", "ProtectSystem=strict", "PrivateTmp=yes", "NoNewPrivileges=yes"} {
		if !strings.Contains(string(unit), "\n"+want) {
			t.Errorf("the unit lacks %s", want)
		}
	}
	path := filepath.Join(t.TempDir(), "clsync@www.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/clsync", "/bin/true")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// Bad handlers through the whole program: one line, exit 22 or 2, nothing
// run.
func TestBadHandlers(t *testing.T) {
	src, dst := tempTree(t)
	dir := t.TempDir()
	notPlugin := filepath.Join(dir, "not-a-plugin.so")
	os.WriteFile(notPlugin, []byte("not an ELF file"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"-Mfoo", "-Secho"}, 22},
		{[]string{"-Mso", "-S" + notPlugin}, 22},
		{[]string{"-Mplugin", "-S" + filepath.Join(dir, "missing.so")}, 2},
		{[]string{"-Mplugin", "-S" + notPlugin}, 22},
		{[]string{"-Mshell", "-S" + notPlugin}, 13},
	} {
		args := append([]string{"-H", "/NULL/", "-W", src, "-D", dst}, tc.args...)
		code, _, stderr := runCLI(t, args...)
		if code != tc.code || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%q: exit %d %q, want %d and one line", tc.args, code, stderr, tc.code)
		}
		if entries, _ := os.ReadDir(dst); len(entries) != 0 {
			t.Errorf("%q: the destination was touched", tc.args)
		}
	}
}
