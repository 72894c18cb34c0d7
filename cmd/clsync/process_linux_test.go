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
	"github.com/clsync-go/clsync/privsep/split"
)

// TestMain lets a test start this test binary as the clsync program, so
// signals reach a real process: CLSYNC_TEST_AS_MAIN=1 runs main().
func TestMain(m *testing.M) {
	// The worker of --splitting=process is this binary run again.
	if os.Getenv("CLSYNC_TEST_AS_MAIN") == "1" || len(os.Args) > 1 && os.Args[1] == split.WorkerCommand {
		main()
		return
	}
	os.Exit(m.Run())
}

type agentProc struct {
	cmd    *exec.Cmd
	stderr *fileLog
	exited chan struct{}
	code   int
}

// fileLog is the agent's stderr: a file, not a pipe, so that waiting for
// the agent never waits for a daemon (-b) that inherited its stderr.
type fileLog struct{ f *os.File }

func (l *fileLog) String() string {
	b, _ := os.ReadFile(l.f.Name())
	return string(b)
}

func startAgent(t *testing.T, args ...string) *agentProc {
	t.Helper()
	return startAgentConf(t, "/NULL/", args...)
}

// startAgentConf starts the program with config file conf (-H).
func startAgentConf(t *testing.T, conf string, args ...string) *agentProc {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	a := &agentProc{stderr: &fileLog{f}, exited: make(chan struct{})}
	a.cmd = exec.Command(os.Args[0], append([]string{"-H", conf}, args...)...)
	a.cmd.Env = append(os.Environ(), "CLSYNC_TEST_AS_MAIN=1")
	a.cmd.Stderr = f
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		a.cmd.Wait()
		a.code = a.cmd.ProcessState.ExitCode()
		close(a.exited)
	}()
	t.Cleanup(func() {
		a.cmd.Process.Kill()
		<-a.exited
	})
	return a
}

func (a *agentProc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := a.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

func (a *agentProc) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-a.exited:
		return a.code
	case <-time.After(within):
		t.Fatalf("clsync still running after %s; log: %s", within, a.stderr.String())
		return -1
	}
}

// waitFor polls cond; the bound only keeps a broken build from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func tempTree(t *testing.T) (src, dst string) {
	t.Helper()
	dir := t.TempDir()
	src, dst = filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	for _, d := range []string{src, dst} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(src, "seed"), []byte("s"), 0o644); err != nil {
		t.Fatal(err)
	}
	return src, dst
}

// slowHandler is an rsync wrapper that records its pid, waits for a file to
// go away, then runs rsync: it makes "a sync is running" observable.
func slowHandler(t *testing.T) (script, gate, pids string) {
	t.Helper()
	dir := t.TempDir()
	script, gate, pids = filepath.Join(dir, "handler"), filepath.Join(dir, "gate"), filepath.Join(dir, "pids")
	body := "#!/bin/sh\necho $$ >> " + pids + "\nwhile [ -e " + gate + " ]; do sleep 0.02; done\nexec rsync \"$@\"\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, gate, pids
}

// handlerPid waits for slowHandler's first run and returns its pid.
func handlerPid(t *testing.T, pids string) int {
	t.Helper()
	// The shell creates the file before it writes the line: wait for the
	// line, not the file.
	var pid int
	waitFor(t, "the handler to start", func() bool {
		data, _ := os.ReadFile(pids)
		line, _, complete := strings.Cut(string(data), "\n")
		var err error
		pid, err = strconv.Atoi(line)
		return complete && err == nil
	})
	return pid
}

func TestSignalTermKillsHandler(t *testing.T) {
	needRsync(t)
	src, dst := tempTree(t)
	script, gate, pids := slowHandler(t)
	os.WriteFile(gate, nil, 0o644)
	a := startAgent(t, "-Mrsyncdirect", "-W", src, "-D", dst, "-S", script, "-w0", "-t0")
	pid := handlerPid(t, pids)
	a.signal(t, syscall.SIGTERM)
	if code := a.wait(t, 5*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0; log: %s", code, a.stderr.String())
	}
	waitFor(t, "the handler to be killed", func() bool { return !alive(pid) })
}

func TestSignalQuitWaitsForRunningSync(t *testing.T) {
	needRsync(t)
	src, dst := tempTree(t)
	script, gate, pids := slowHandler(t)
	status := filepath.Join(t.TempDir(), "status")
	a := startAgent(t, "-Mrsyncdirect", "-W", src, "-D", dst, "-S", script, "-w0", "-t0", "--status-file", status)
	waitFor(t, "the initial sync", func() bool { return exists(filepath.Join(dst, "seed")) })
	os.WriteFile(gate, nil, 0o644)
	os.WriteFile(filepath.Join(src, "during"), []byte("d"), 0o644)
	waitFor(t, "the second sync to start", func() bool {
		data, _ := os.ReadFile(pids)
		return strings.Count(string(data), "\n") >= 2
	})
	a.signal(t, syscall.SIGQUIT)
	waitFor(t, "the agent to take SIGQUIT", func() bool { b, _ := os.ReadFile(status); return string(b) == "terminating" })
	select {
	case <-a.exited:
		t.Fatal("SIGQUIT did not wait for the running sync")
	default:
	}
	os.Remove(gate)
	if code := a.wait(t, 10*time.Second); code != 0 {
		t.Errorf("exit %d after SIGQUIT; log: %s", code, a.stderr.String())
	}
	if !exists(filepath.Join(dst, "during")) {
		t.Error("the sync SIGQUIT waited for did not complete")
	}
}

func TestSignalUsr2FullResync(t *testing.T) {
	needRsync(t)
	src, dst := tempTree(t)
	a := startAgent(t, "-Mrsyncdirect", "-W", src, "-D", dst, "-w0", "-t0")
	waitFor(t, "the initial sync", func() bool { return exists(filepath.Join(dst, "seed")) })
	// Damage the mirror behind the agent's back: only a full resync repairs it.
	os.Remove(filepath.Join(dst, "seed"))
	os.WriteFile(filepath.Join(dst, "stray"), nil, 0o644)
	a.signal(t, syscall.SIGUSR2)
	waitFor(t, "the full resync", func() bool {
		return exists(filepath.Join(dst, "seed")) && !exists(filepath.Join(dst, "stray"))
	})
}

// SIGHUP applies the rules file again: a directory the new rules monitor is
// watched and what changed in it meanwhile synced; a file the new rules
// sync is synced though nothing happened to it; a directory they exclude
// is no longer watched.
func TestSignalHupReloadsRules(t *testing.T) {
	needRsync(t)
	src, dst := tempTree(t)
	for _, d := range []string{"skip/sub", "keep"} {
		os.MkdirAll(filepath.Join(src, d), 0o755)
	}
	dir := t.TempDir()
	rulesFile, dump, status := filepath.Join(dir, "rules"), filepath.Join(dir, "dump"), filepath.Join(dir, "status")
	os.WriteFile(rulesFile, []byte("-m^skip\n-f\\.tmp$\n+*\n"), 0o644)
	os.WriteFile(filepath.Join(src, "x.tmp"), []byte("t"), 0o644)
	a := startAgent(t, "-Mrsyncdirect", "-W", src, "-D", dst, "-R", rulesFile, "-w0", "-t0", "--dump-dir", dump, "--status-file", status)
	waitFor(t, "the initial sync", func() bool { b, _ := os.ReadFile(status); return string(b) == "running" })
	watches := func() string {
		os.RemoveAll(dump)
		a.signal(t, syscall.Signal(29))
		waitFor(t, "the dump", func() bool { return exists(filepath.Join(dump, "pid")) })
		b, _ := os.ReadFile(filepath.Join(dump, "watches"))
		return strings.TrimSpace(string(b))
	}
	os.WriteFile(filepath.Join(src, "skip/sub/unmonitored"), []byte("u"), 0o644)
	os.WriteFile(filepath.Join(src, "keep/barrier"), []byte("b"), 0o644)
	waitFor(t, "a sync after the change in skip", func() bool { return exists(filepath.Join(dst, "keep/barrier")) })
	for _, p := range []string{"skip/sub/unmonitored", "x.tmp"} {
		if exists(filepath.Join(dst, p)) {
			t.Fatalf("%s synced, which the rules exclude", p)
		}
	}

	os.WriteFile(rulesFile, []byte("+*\n"), 0o644)
	a.signal(t, syscall.SIGHUP)
	waitFor(t, "the change made while skip was not monitored", func() bool { return exists(filepath.Join(dst, "skip/sub/unmonitored")) })
	waitFor(t, "the file the new rules sync", func() bool { return exists(filepath.Join(dst, "x.tmp")) })
	os.WriteFile(filepath.Join(src, "skip/sub/monitored"), []byte("m"), 0o644)
	waitFor(t, "a change in skip after the reload", func() bool { return exists(filepath.Join(dst, "skip/sub/monitored")) })
	if got := watches(); got != "4" {
		t.Errorf("%s watches with every directory walked, want 4", got)
	}

	os.WriteFile(rulesFile, []byte("-d^skip$\n+*\n"), 0o644)
	a.signal(t, syscall.SIGHUP)
	waitFor(t, "the watches of skip to go", func() bool { return watches() == "2" })
}

func TestMaxIterations(t *testing.T) {
	needRsync(t)
	src, dst := tempTree(t)
	a := startAgent(t, "-Mrsyncdirect", "-W", src, "-D", dst, "-w0", "-t0", "--max-iterations=2")
	waitFor(t, "the initial sync", func() bool { return exists(filepath.Join(dst, "seed")) })
	os.WriteFile(filepath.Join(src, "second"), nil, 0o644)
	if code := a.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d; log: %s", code, a.stderr.String())
	}
	if !exists(filepath.Join(dst, "second")) {
		t.Error("the second iteration did not sync")
	}
}

func TestSyncTimeoutKills(t *testing.T) {
	needRsync(t)
	src, dst := tempTree(t)
	script, gate, pids := slowHandler(t)
	os.WriteFile(gate, nil, 0o644)
	a := startAgent(t, "-Mrsyncdirect", "-W", src, "-D", dst, "-S", script, "-k1")
	pid := handlerPid(t, pids)
	if code := a.wait(t, 10*time.Second); code == 0 {
		t.Fatalf("a handler past -k must fail the run; log: %s", a.stderr.String())
	}
	waitFor(t, "the handler to be killed", func() bool { return !alive(pid) })
}

// -L and -U: the list files are clsync's, in the lists dir, and stay there.
func TestListsDirKeepsLists(t *testing.T) {
	needRsync(t)
	src, dst := tempTree(t)
	lists := filepath.Join(t.TempDir(), "lists")
	if err := os.Mkdir(lists, 0o700); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"-H", "/NULL/", "-Mrsyncdirect", "-W", src, "-D", dst, "-L", lists, "-U", "--only-initialsync"}, &bytes.Buffer{}, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	entries, _ := os.ReadDir(lists)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 2 || !strings.HasPrefix(names[0], ".clsync-") {
		t.Fatalf("lists dir holds %q, want an include and an exclude list", names)
	}
	found := false
	for _, n := range names {
		data, _ := os.ReadFile(filepath.Join(lists, n))
		if string(data) == "/***\n" {
			found = true
		}
	}
	if !found {
		t.Errorf("no include list with the whole tree in %q", names)
	}
}

// --sync-handler-uid/--sync-handler-gid: the handler runs as that user.
func TestSyncHandlerIdentity(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running a handler as another user needs root")
	}
	src, dst := tempTree(t)
	dir := t.TempDir()
	// nobody must reach the script, the record and the watch dir (its cwd).
	for _, d := range []string{filepath.Dir(dir), filepath.Dir(src)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	record := filepath.Join(dir, "id")
	script := filepath.Join(dir, "handler")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho $(id -u) $(id -g) > "+record+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"-H", "/NULL/", "-Mrsyncdirect", "-W", src, "-D", dst, "-S", script,
		"--sync-handler-uid=nobody", "--sync-handler-gid=65534", "--only-initialsync"}, &bytes.Buffer{}, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	data, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(data)); got != "65534 65534" {
		t.Errorf("handler ran as %q, want 65534 65534", got)
	}
}

// SIGQUIT with --sync-on-quit syncs every change made before the signal,
// however long the collect delays, including a tree moved in whose walk is
// still running; without it the queue is left.
func TestSignalQuitSyncOnQuit(t *testing.T) {
	needRsync(t)
	for _, syncOnQuit := range []bool{true, false} {
		src, dst := tempTree(t)
		args := []string{"-Mrsyncdirect", "-W", src, "-D", dst, "-w", "3600", "-t", "3600"}
		if syncOnQuit {
			args = append(args, "--sync-on-quit")
		}
		a := startAgent(t, args...)
		waitFor(t, "the initial sync", func() bool { return exists(filepath.Join(dst, "seed")) })
		big := filepath.Join(t.TempDir(), "big")
		writeTree(t, big, 300, 2)
		os.WriteFile(filepath.Join(src, "queued"), nil, 0o644)
		if err := os.Rename(big, filepath.Join(src, "big")); err != nil {
			t.Fatal(err)
		}
		a.signal(t, syscall.SIGQUIT)
		if code := a.wait(t, 10*time.Second); code != 0 {
			t.Fatalf("exit %d; log: %s", code, a.stderr.String())
		}
		if got := exists(filepath.Join(dst, "queued")); got != syncOnQuit {
			t.Errorf("--sync-on-quit=%v: queued file synced = %v", syncOnQuit, got)
		}
		if syncOnQuit {
			if diffs, err := treecmp.Diff(src, dst); err != nil || len(diffs) != 0 {
				t.Errorf("--sync-on-quit left the destination short: %v %v", err, diffs[:min(len(diffs), 10)])
			}
		}
	}
}

// A failing handler stops the run after -r tries, however busy the tree
// is: every failure counts (a busy tree once turned each failure into a
// transient one, and the handler ran 163 times in 6 s without stopping).
func TestFailingHandlerOnBusyTreeStops(t *testing.T) {
	for _, tries := range []int{1, 3} {
		src, dst := tempTree(t)
		dir := t.TempDir()
		runs := filepath.Join(dir, "runs")
		script := filepath.Join(dir, "handler")
		os.WriteFile(script, []byte("#!/bin/sh\necho run >> "+runs+"\nexit 5\n"), 0o755)
		stop := make(chan struct{})
		writing := make(chan struct{})
		go func() {
			defer close(writing)
			f, err := os.Create(filepath.Join(src, "busy.log"))
			if err != nil {
				return
			}
			defer f.Close()
			for {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
					f.WriteString("busy\n")
				}
			}
		}()
		a := startAgent(t, "-Mrsyncdirect", "-W", src, "-D", dst, "-S", script, "-w0", "-t0", "-r", strconv.Itoa(tries))
		code := a.wait(t, 20*time.Second)
		close(stop)
		<-writing
		b, _ := os.ReadFile(runs)
		if n := strings.Count(string(b), "\n"); code != 5 || n != tries {
			t.Errorf("-r%d on a busy tree: exit %d after %d handler runs, want exit 5 after %d; log: %s", tries, code, n, tries, a.stderr.String())
		}
	}
}

// With tries left, a sync that failed (rsync's 23 when a file turned into
// a symlink between listing and opening, say) is tried again, and the
// change that broke it is synced too.
func TestFailedSyncTriedAgain(t *testing.T) {
	needRsync(t)
	src, dst := tempTree(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "handler")
	body := "#!/bin/sh\nif [ ! -e " + dir + "/failed ]; then touch " + dir + "/failed; echo x > " + src + "/changed-during; exit 23; fi\nexec rsync \"$@\"\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, "-Mrsyncdirect", "-W", src, "-D", dst, "-S", script, "-w0", "-t0", "-r2")
	waitFor(t, "the retried initial sync and the change", func() bool {
		return exists(filepath.Join(dst, "seed")) && exists(filepath.Join(dst, "changed-during"))
	})
	select {
	case <-a.exited:
		t.Fatalf("exited with %d: %s", a.code, a.stderr.String())
	default:
	}
}

// alive tells whether pid runs (a zombie does not: it waits to be reaped).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z'
}

// A handler dies with the agent, even when the agent is SIGKILLed: it must
// not go on writing into the destination on a sync nobody follows.
func TestHandlerDiesWithKilledAgent(t *testing.T) {
	needRsync(t)
	src, dst := tempTree(t)
	script, gate, pids := slowHandler(t)
	os.WriteFile(gate, nil, 0o644)
	a := startAgent(t, "-Mrsyncdirect", "-W", src, "-D", dst, "-S", script, "-w0", "-t0")
	pid := handlerPid(t, pids)
	a.signal(t, syscall.SIGKILL)
	a.wait(t, 5*time.Second)
	waitFor(t, "the handler to die with the agent", func() bool { return !alive(pid) })
	os.Remove(gate)
	if entries, _ := os.ReadDir(dst); len(entries) != 0 {
		t.Errorf("the destination was written after the agent died: %v", entries)
	}
}
