//go:build linux

package main

// The EXAMPLES section of clsync(1), one test per entry: each command line
// runs through sh exactly as the manual writes it, with the paths (and,
// where it names one, the host) substituted. Options the tests add only to
// observe the run (-z for a -b daemon without a pid file, --dump-dir to make
// a daemon log an error to syslog, --sync-on-quit to flush the default 30 s
// delays at SIGQUIT) go right after the program name; the example's own
// options are never changed. Tools that reach other hosts (pdcp, uftp) are
// recording scripts on PATH; -Y syslog runs with a syslog socket of the
// test's own, in a private mount namespace.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clsync-go/clsync/internal/treecmp"
)

// manRun is one example command line, run by sh as a user runs it.
type manRun struct {
	cmd            *exec.Cmd
	stdout, stderr *fileLog
	exited         chan struct{}
	code           int
}

// startManExample runs script with sh -c in dir (the test's own if ""),
// behind prefix (a namespace to run in, or nil). Its output goes to files,
// not pipes, so that waiting for sh never waits for a -b daemon that
// inherited them. At cleanup the process group is killed.
func startManExample(t *testing.T, env []string, dir string, prefix []string, script string) *manRun {
	t.Helper()
	logs := t.TempDir()
	open := func(name string) *fileLog {
		f, err := os.Create(filepath.Join(logs, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return &fileLog{f}
	}
	r := &manRun{stdout: open("stdout"), stderr: open("stderr"), exited: make(chan struct{})}
	argv := append(append([]string{}, prefix...), "sh", "-c", script)
	r.cmd = exec.Command(argv[0], argv[1:]...)
	r.cmd.Dir = dir
	r.cmd.Env = env
	r.cmd.Stdout, r.cmd.Stderr = r.stdout.f, r.stderr.f
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r.cmd.Wait()
		r.code = r.cmd.ProcessState.ExitCode()
		close(r.exited)
	}()
	t.Cleanup(func() {
		syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.exited
	})
	return r
}

func (r *manRun) output() string {
	return fmt.Sprintf("stdout: %q stderr: %q", r.stdout.String(), r.stderr.String())
}

// wait returns the exit code of the command line.
func (r *manRun) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-r.exited:
		return r.code
	case <-time.After(within):
		t.Fatalf("the example still runs after %s; %s", within, r.output())
		return -1
	}
}

// waitFor is waitFor that gives up as soon as the example has exited.
func (r *manRun) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		select {
		case <-r.exited:
			if cond() {
				return
			}
			t.Fatalf("the example exited with %d before %s; %s", r.code, what, r.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; %s", what, r.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// clsyncPid is the pid of the clsync the example's sh started: its child
// running this test binary (the wrapper on PATH execs it).
func (r *manRun) clsyncPid(t *testing.T) int {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sh := r.cmd.Process.Pid
	pid := 0
	r.waitFor(t, "clsync to start", func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", sh, sh))
		for _, f := range strings.Fields(string(b)) {
			c, _ := strconv.Atoi(f)
			if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", c)); exe == self {
				pid = c
				return true
			}
		}
		return false
	})
	return pid
}

// quit sends SIGQUIT to the example's clsync and expects a clean exit.
func (r *manRun) quit(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(r.clsyncPid(t), syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	if code := r.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGQUIT, want 0; %s", code, r.output())
	}
}

// manDaemon waits for the -b command to return, then reads the daemon's
// pid from pidFile. Whatever happens, the daemon is stopped at cleanup
// (SIGTERM, then SIGKILL).
func manDaemon(t *testing.T, r *manRun, pidFile string) int {
	t.Helper()
	stopDaemonAtCleanup(t, pidFile)
	if code := r.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("the -b command exited with %d; %s", code, r.output())
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("no pid file after -b returned: %v; %s", err, r.output())
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 || pid == r.cmd.Process.Pid || !alive(pid) {
		t.Fatalf("pid file holds %q, not a running daemon; %s", b, r.output())
	}
	return pid
}

// stopDaemonAtCleanup stops the daemon whose pid is in pidFile, if any is
// still running at cleanup: SIGTERM, then SIGKILL.
func stopDaemonAtCleanup(t *testing.T, pidFile string) {
	t.Cleanup(func() {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if pid <= 0 || !alive(pid) {
			return
		}
		syscall.Kill(pid, syscall.SIGTERM)
		for deadline := time.Now().Add(5 * time.Second); alive(pid) && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		syscall.Kill(pid, syscall.SIGKILL)
	})
}

// quitDaemon sends SIGQUIT to a -b daemon: it must exit cleanly, which
// removes its pid file.
func quitDaemon(t *testing.T, pid int, pidFile string) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the daemon to exit after SIGQUIT", func() bool { return !alive(pid) })
	if exists(pidFile) {
		t.Errorf("the daemon left its pid file after SIGQUIT: it did not exit cleanly")
	}
}

// manScript substitutes the example's paths (pairs of old, new) and puts
// the test's observation options right after the program name.
func manScript(example string, testOpts []string, paths ...string) string {
	s := example
	if len(testOpts) > 0 {
		at := regexp.MustCompile(`(^|\n|\| )clsync\s`).FindStringIndex(s)
		end := at[1] - 1 // the blank after "clsync"
		s = s[:end] + " " + strings.Join(testOpts, " ") + s[end:]
	}
	return strings.NewReplacer(paths...).Replace(s)
}

// syslogSink is a syslog socket of the test's own. The machine has no
// /dev/log: prefix runs a command in a private mount namespace where the
// sink's directory is mounted on /run, so that Go's log/syslog, which tries
// /dev/log, /var/run/syslog and /var/run/log, finds it at /var/run/syslog.
type syslogSink struct {
	dir  string
	conn *net.UnixConn
	mu   sync.Mutex
	msgs []string
}

func newSyslogSink(t *testing.T) *syslogSink {
	t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare(1) is not installed: no private syslog socket")
	}
	s := &syslogSink{dir: t.TempDir()}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(s.dir, "syslog"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	s.conn = conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, string(buf[:n]))
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	return s
}

func (s *syslogSink) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

// prefix is the argv that runs a command with the sink as the system's
// syslog socket.
func (s *syslogSink) prefix(t *testing.T) []string {
	t.Helper()
	run, err := filepath.EvalSymlinks("/var/run")
	if err != nil {
		t.Skipf("no /var/run: %v", err)
	}
	return []string{"unshare", "--mount", "--propagation", "private",
		"sh", "-c", `mount --bind "$0" "$1" && shift && exec "$@"`, s.dir, run}
}

// logsToSyslog makes the daemon log something and checks it reached the
// sink, not the terminal: signal 29 with --dump-dir naming a directory
// that exists fails ("the directory must not exist yet"), and the agent
// logs that error.
func (s *syslogSink) logsToSyslog(t *testing.T, r *manRun, daemon int) {
	t.Helper()
	if err := syscall.Kill(daemon, syscall.Signal(29)); err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("clsync[%d]:", daemon)
	waitFor(t, "the daemon's error to reach syslog", func() bool {
		for _, m := range s.messages() {
			if strings.Contains(m, tag) && strings.Contains(m, "dump (signal 29)") {
				t.Logf("syslog got %q", m)
				return true
			}
		}
		return false
	})
	if strings.Contains(r.stdout.String()+r.stderr.String(), "dump (signal 29)") {
		t.Errorf("with syslog output the daemon logged to the terminal too; %s", r.output())
	}
}

// manSourceTree is a small source tree with a seed file, and an empty
// destination.
func manSourceTree(t *testing.T) (src, dst string) {
	t.Helper()
	src, dst = tempTree(t)
	writeTree(t, src, 3, 2)
	if err := os.Symlink("d000/sub0/f1.txt", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	return src, dst
}

func mirrored(src, dst string) func() bool {
	return func() bool {
		diffs, err := treecmp.Diff(src, dst)
		return err == nil && len(diffs) == 0
	}
}

func (r *manRun) waitMirror(t *testing.T, what, src, dst string) {
	t.Helper()
	r.waitFor(t, what, mirrored(src, dst))
}

// objects lists every object of the tree under root, relative to it, the
// root itself as ".".
func objects(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func lines(path string) []string {
	b, _ := os.ReadFile(path)
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// recorder writes an executable script named name into bin that appends
// "$PWD $*" (one line per run) to the returned file, then runs extra.
func recorder(t *testing.T, bin, name, extra string) (record string) {
	t.Helper()
	record = filepath.Join(t.TempDir(), name+".runs")
	body := "#!/bin/sh\nprintf '%s\\n' \"$PWD $*\" >> " + record + "\n" + extra
	if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return record
}

// withBin puts bin first on env's PATH.
func withBin(env []string, bin string) []string {
	out := slices.Clone(env)
	for i, e := range out {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			out[i] = "PATH=" + bin + ":" + v
		}
	}
	return out
}

// Mirroring a directory:
//
//	clsync -Mrsyncdirect  -W/path/to/source_dir  -D/path/to/destination_dir
//
// The delays are clsync's defaults (30 s): the initial sync mirrors the
// tree, and SIGQUIT stops the agent cleanly.
func TestManPageMirroring(t *testing.T) {
	needRsync(t)
	src, dst := manSourceTree(t)
	os.WriteFile(filepath.Join(dst, "stale"), []byte("only in the destination"), 0o644)
	r := startManExample(t, clsyncOnPath(t), "", nil, manScript(
		`clsync -Mrsyncdirect  -W/path/to/source_dir  -D/path/to/destination_dir`, nil,
		"/path/to/source_dir", src, "/path/to/destination_dir", dst))
	r.waitMirror(t, "the initial sync", src, dst)
	r.quit(t)
}

// Syncing 'authorized_keys' files:
//
//	mkdir -p /etc/clsync/rules
//	printf "+w^$\n+w^[^/]+$\n+W^[^/]+/.ssh$\n+f^[^/]+/.ssh/authorized_keys$\n-*" > /etc/clsync/rules/authorized_files_only
//	clsync -Mdirect -Scp -W/mnt/master/home/ -D/home -R/etc/clsync/rules/authorized_files_only -- -Pfp --parents %INCLUDE-LIST% %destination-dir%
//
// The root and the homes are admitted for walking only, so only the key
// files are ever handed to cp. The delays are the default 30 s: the test
// adds --sync-on-quit, so that SIGQUIT syncs the live changes at once.
func TestManPageAuthorizedKeys(t *testing.T) {
	dir := t.TempDir()
	etc, master, home := filepath.Join(dir, "etc-clsync"), filepath.Join(dir, "master-home"), filepath.Join(dir, "home")
	files := map[string]string{
		"alice/.ssh/authorized_keys":     "alice-key\n",
		"alice/.ssh/id_rsa":              "alice-private\n",
		"alice/.ssh/authorized_keys.old": "old\n",
		"alice/notes":                    "notes\n",
		"alice/sub/.ssh/authorized_keys": "too deep\n",
		"bob/.ssh/authorized_keys":       "bob-key\n",
		"bob/.ssh/known_hosts":           "hosts\n",
		"nokeys/.profile":                "profile\n",
		"authorized_keys":                "at the root\n",
	}
	for p, c := range files {
		os.MkdirAll(filepath.Join(master, filepath.Dir(p)), 0o755)
		if err := os.WriteFile(filepath.Join(master, p), []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(home, 0o755)
	const example = `mkdir -p /etc/clsync/rules
printf	"+w^$\n+w^[^/]+$\n+W^[^/]+/.ssh$\n+f^[^/]+/.ssh/authorized_keys$\n-*" > /etc/clsync/rules/authorized_files_only
clsync	 -Mdirect     -Scp     -W/mnt/master/home/     -D/home	-R/etc/clsync/rules/authorized_files_only -- -Pfp --parents %INCLUDE-LIST% %destination-dir%`
	r := startManExample(t, clsyncOnPath(t), "", nil, manScript(example, []string{"--sync-on-quit"},
		"/etc/clsync", etc, "/mnt/master/home/", master+"/", "/home", home))

	// Only the files under home, with their content.
	got := func() map[string]string {
		out := map[string]string{}
		filepath.WalkDir(home, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(home, p)
				b, _ := os.ReadFile(p)
				out[rel] = string(b)
			}
			return nil
		})
		return out
	}
	want := map[string]string{"alice/.ssh/authorized_keys": "alice-key\n", "bob/.ssh/authorized_keys": "bob-key\n"}
	r.waitFor(t, "the initial sync of the key files", func() bool {
		g := got()
		return g["alice/.ssh/authorized_keys"] == want["alice/.ssh/authorized_keys"] && g["bob/.ssh/authorized_keys"] == want["bob/.ssh/authorized_keys"]
	})
	rules, err := os.ReadFile(filepath.Join(etc, "rules", "authorized_files_only"))
	if err != nil {
		t.Fatal(err)
	}
	if string(rules) != "+w^$\n+w^[^/]+$\n+W^[^/]+/.ssh$\n+f^[^/]+/.ssh/authorized_keys$\n-*" {
		t.Fatalf("the rules file printf wrote is %q", rules)
	}

	// Live: a key edited, a new user's home moved in.
	if err := os.WriteFile(filepath.Join(master, "alice/.ssh/authorized_keys"), []byte("alice-key\nalice-laptop\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	carol := filepath.Join(dir, "carol")
	for p, c := range map[string]string{".ssh/authorized_keys": "carol-key\n", ".ssh/id_ed25519": "carol-private\n", "notes": "n\n"} {
		os.MkdirAll(filepath.Join(carol, filepath.Dir(p)), 0o700)
		if err := os.WriteFile(filepath.Join(carol, p), []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(carol, filepath.Join(master, "carol")); err != nil {
		t.Fatal(err)
	}
	r.quit(t)
	want = map[string]string{
		"alice/.ssh/authorized_keys": "alice-key\nalice-laptop\n",
		"bob/.ssh/authorized_keys":   "bob-key\n",
		"carol/.ssh/authorized_keys": "carol-key\n",
	}
	if g := got(); fmt.Sprint(g) != fmt.Sprint(want) {
		t.Errorf("the destination holds %q, want exactly %q; %s", g, want, r.output())
	}
}

// Mirroring a directory, but faster:
//
//	clsync -w5 -t5 -T5 -Mrsyncdirect -W/path/to/source_dir -D/path/to/destination_dir
//
// A live change reaches the destination after the 5 s delays.
func TestManPageMirroringFaster(t *testing.T) {
	needRsync(t)
	src, dst := manSourceTree(t)
	r := startManExample(t, clsyncOnPath(t), "", nil, manScript(
		`clsync   -w5   -t5   -T5	 -Mrsyncdirect	 -W/path/to/source_dir	-D/path/to/destination_dir`, nil,
		"/path/to/source_dir", src, "/path/to/destination_dir", dst))
	r.waitMirror(t, "the initial sync", src, dst)
	sh(t, src, "mkdir -p new/dir && echo n > new/dir/file && echo changed >> d001/sub1/f0.txt && rm -r d002")
	r.waitMirror(t, "the live changes", src, dst)
	r.quit(t)
}

// Instant mirroring of a directory:
//
//	clsync -w0 -t0 -T0 -Mrsyncdirect -W/path/to/source_dir -D/path/to/destination_dir
func TestManPageInstantMirroring(t *testing.T) {
	needRsync(t)
	src, dst := manSourceTree(t)
	r := startManExample(t, clsyncOnPath(t), "", nil, manScript(
		`clsync   -w0   -t0   -T0	 -Mrsyncdirect	 -W/path/to/source_dir	-D/path/to/destination_dir`, nil,
		"/path/to/source_dir", src, "/path/to/destination_dir", dst))
	r.waitMirror(t, "the initial sync", src, dst)
	for _, step := range []string{
		"mkdir -p new/dir && echo n > new/dir/file",
		"mv d000 renamed && echo more >> renamed/sub0/f0.txt",
		"rm -r d001 link && ln -s renamed new/link",
		"chmod 700 new/dir && : > d002/sub2/f1.txt",
	} {
		sh(t, src, step)
		r.waitMirror(t, step, src, dst)
	}
	r.quit(t)
}

// Making two directories synchronous:
//
//	clsync -Mrsyncdirect --background -z /var/run/clsync0.pid --output syslog -Mrsyncdirect -W/path/to/dir1 -D/path/to/dir2 --modification-signature '*'
//	clsync -Mrsyncdirect --background -z /var/run/clsync1.pid --output syslog -Mrsyncdirect -W/path/to/dir2 -D/path/to/dir1 --modification-signature '*'
//
// clsync-go refuses this recipe (two agents syncing into each other lose
// files): exit 22, one line on stderr, nothing written, no daemon.
func TestManPageTwoDirectoriesSynchronous(t *testing.T) {
	dir := t.TempDir()
	dir1, dir2, run := filepath.Join(dir, "dir1"), filepath.Join(dir, "dir2"), filepath.Join(dir, "run")
	for _, d := range []string{dir1, dir2, run} {
		os.Mkdir(d, 0o755)
	}
	os.WriteFile(filepath.Join(dir1, "only-in-1"), []byte("1"), 0o644)
	os.WriteFile(filepath.Join(dir2, "only-in-2"), []byte("2"), 0o644)
	before1, before2 := objects(t, dir1), objects(t, dir2)
	sink := newSyslogSink(t)
	env := clsyncOnPath(t)
	for _, pidFile := range []string{"clsync0.pid", "clsync1.pid"} {
		stopDaemonAtCleanup(t, filepath.Join(run, pidFile))
	}
	for _, line := range []string{
		`clsync -Mrsyncdirect --background -z /var/run/clsync0.pid --output syslog -Mrsyncdirect -W/path/to/dir1 -D/path/to/dir2 --modification-signature '*'`,
		`clsync -Mrsyncdirect --background -z /var/run/clsync1.pid --output syslog -Mrsyncdirect -W/path/to/dir2 -D/path/to/dir1 --modification-signature '*'`,
	} {
		script := manScript(line, nil, "/var/run", run, "/path/to/dir1", dir1, "/path/to/dir2", dir2)
		r := startManExample(t, env, "", sink.prefix(t), script)
		code := r.wait(t, 10*time.Second)
		stderr := r.stderr.String()
		if code != 22 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "Two-way sync") {
			t.Errorf("%s: exit %d, %s; want exit 22 and one line on stderr mentioning \"Two-way sync\"", script, code, r.output())
		}
	}
	if entries, _ := os.ReadDir(run); len(entries) != 0 {
		t.Errorf("pid files were written: %v", entries)
	}
	if after1, after2 := objects(t, dir1), objects(t, dir2); !slices.Equal(before1, after1) || !slices.Equal(before2, after2) {
		t.Errorf("the directories changed: %q %q, were %q %q", after1, after2, before1, before2)
	}
}

// Fixing privileges of a web-site:
//
//	clsync -w3 -t3 -T3 -x1 -W/var/www/site.example.org/root -Mdirect -Schown --uid 0 --gid 0 -Ysyslog -b1 --modification-signature uid,gid -- --from=root www-data:www-data %INCLUDE-LIST%
//
// What root owns, already there or created later, becomes www-data's; a
// file of another user is left alone. The test adds a pid file to find the
// daemon and runs it with a syslog socket of its own.
func TestManPageFixingPrivileges(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the example runs as root")
	}
	u, err := user.Lookup("www-data")
	if err != nil {
		t.Skip("no www-data user")
	}
	wwwData, _ := strconv.Atoi(u.Uid)
	root := filepath.Join(t.TempDir(), "root")
	sh(t, "/", "mkdir -p "+root+"/css && echo '<html>' > "+root+"/index.html && echo 'body{}' > "+root+"/css/site.css && echo x > "+root+"/someone-elses && chown 65534:65534 "+root+"/someone-elses")
	dir := t.TempDir()
	pidFile, dumpDir := filepath.Join(dir, "pid"), t.TempDir()
	sink := newSyslogSink(t)
	r := startManExample(t, clsyncOnPath(t), "", sink.prefix(t), manScript(
		`clsync -w3 -t3 -T3 -x1 -W/var/www/site.example.org/root -Mdirect -Schown  --uid  0	 --gid 0 -Ysyslog -b1 --modification-signature uid,gid -- --from=root www-data:www-data %INCLUDE-LIST%`,
		[]string{"-z", pidFile, "--dump-dir", dumpDir},
		"/var/www/site.example.org/root", root))
	daemon := manDaemon(t, r, pidFile)
	sh(t, root, "mkdir -p uploads/2026 && echo jpg > uploads/2026/photo.jpg && echo new > new.html")
	owner := func(p string) uint32 {
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(root, p), &st); err != nil {
			return 1<<32 - 1
		}
		return st.Uid
	}
	waitFor(t, "www-data to own what root created", func() bool {
		for _, p := range []string{"index.html", "css", "css/site.css", "uploads", "uploads/2026", "uploads/2026/photo.jpg", "new.html"} {
			if owner(p) != uint32(wwwData) {
				return false
			}
		}
		return true
	})
	if got := owner("someone-elses"); got != 65534 {
		t.Errorf("a file of another user now belongs to %d", got)
	}
	sink.logsToSyslog(t, r, daemon)
	quitDaemon(t, daemon, pidFile)
}

// 'Atomic' sync:
//
//	clsync --exit-on-no-events --max-iterations=20 --mode=rsyncdirect -W/var/www_new -Srsync -- %RSYNC-ARGS% /var/www_new/ /var/www/
func TestManPageAtomicSync(t *testing.T) {
	needRsync(t)
	src, dst := manSourceTree(t)
	os.WriteFile(filepath.Join(dst, "stale"), []byte("only in the destination"), 0o644)
	r := startManExample(t, clsyncOnPath(t), "", nil, manScript(
		`clsync --exit-on-no-events  --max-iterations=20  --mode=rsyncdirect   -W/var/www_new   -Srsync  --  %RSYNC-ARGS%	 /var/www_new/ /var/www/`, nil,
		"/var/www_new", src, "/var/www/", dst+"/"))
	if code := r.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit %d; %s", code, r.output())
	}
	if diffs, err := treecmp.Diff(src, dst); err != nil || len(diffs) != 0 {
		t.Fatalf("not a mirror: %v %q", err, diffs)
	}
}

// Moving a web-server:
//
//	clsync --exit-on-no-events --max-iterations=20 --pre-exit-hook=/root/stop-here.sh --exit-hook=/root/start-there.sh --mode=rsyncdirect --ignore-exitcode=23,24 --retries=3 -W /var/www -S rsync -- %RSYNC-ARGS% /var/www/ rsync://clsync@another-host/var/www/
//
// another-host is a real rsync daemon (module "var", no authentication, so
// the user part of the URL is ignored) in a network namespace of the
// test's own, where clsync runs too; another-host becomes 127.0.0.1:PORT.
// The hooks are recording scripts: stop-here.sh also writes a last file, as
// a web server writes its last data while it stops, which the sync after
// the pre-exit hook must carry over before start-there.sh runs.
func TestManPageMovingWebServer(t *testing.T) {
	needRsync(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip(8) is not installed (iproute2)")
	}
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	src, _ := manSourceTree(t)
	dir := t.TempDir()
	there := filepath.Join(dir, "there")
	www := filepath.Join(there, "www")
	os.MkdirAll(www, 0o755)
	os.WriteFile(filepath.Join(www, "stale"), []byte("old site"), 0o644)

	ns := fmt.Sprintf("clsync-manpage-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v %s", ns, err, out)
		}
	})
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	conf := filepath.Join(dir, "rsyncd.conf")
	os.WriteFile(conf, []byte("log file = "+filepath.Join(dir, "rsyncd.log")+"\n"+
		"[var]\npath = "+there+"\nread only = false\nuid = root\ngid = root\n"), 0o644)
	const port = "8873"
	daemon := exec.Command("ip", "netns", "exec", ns, "rsync", "--daemon", "--no-detach", "--config="+conf, "--port="+port)
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		daemon.Process.Kill()
		daemon.Wait()
	})
	waitFor(t, "the rsync daemon to listen", func() bool {
		return exec.Command("ip", "netns", "exec", ns, "rsync", "rsync://127.0.0.1:"+port+"/").Run() == nil
	})

	hooks := t.TempDir()
	record := filepath.Join(dir, "hooks")
	os.WriteFile(filepath.Join(hooks, "stop-here.sh"), []byte("#!/bin/sh\necho \"stop-here $#:$*\" >> "+record+"\necho bye > "+src+"/last-words\n"), 0o755)
	os.WriteFile(filepath.Join(hooks, "start-there.sh"), []byte("#!/bin/sh\necho \"start-there $#:$* $(cat "+www+"/last-words)\" >> "+record+"\n"), 0o755)

	r := startManExample(t, clsyncOnPath(t), "", []string{"ip", "netns", "exec", ns}, manScript(
		`clsync	      --exit-on-no-events	   --max-iterations=20 --pre-exit-hook=/root/stop-here.sh --exit-hook=/root/start-there.sh --mode=rsyncdirect --ignore-exitcode=23,24  --retries=3	 -W  /var/www -S rsync -- %RSYNC-ARGS% /var/www/ rsync://clsync@another-host/var/www/`, nil,
		"/root", hooks, "/var/www/ ", src+"/ ", "/var/www ", src+" ", "another-host", "127.0.0.1:"+port))
	if code := r.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit %d; %s", code, r.output())
	}
	if diffs, err := treecmp.Diff(src, www); err != nil || len(diffs) != 0 {
		t.Errorf("the other host's /var/www is not a mirror: %v %q", err, diffs)
	}
	got := lines(record)
	if len(got) != 2 || !strings.HasPrefix(got[0], "stop-here 1:") || !strings.HasPrefix(got[1], "start-there 1:") || !strings.HasSuffix(got[1], " bye") {
		t.Errorf("hook runs %q, want stop-here then start-there, one argument (the label) each, and what stop-here wrote already there", got)
	}
}

// Copying files to slave-nodes using pdcp(1):
//
//	clsync -Msimple -S pdcp -W /opt/global -b -Y syslog -- -a %INCLUDE-LIST% %INCLUDE-LIST%
//
// pdcp sends to other hosts: a recording script named pdcp on PATH stands
// in for it; it records its arguments (one line per run) and copies the
// object into a directory that plays the nodes. The delays are the default
// 30 s: the initial sync copies every object, and SIGQUIT stops the daemon
// cleanly. The test adds a pid file to find the daemon and runs it with a
// syslog socket of its own.
func TestManPagePdcp(t *testing.T) {
	src, _ := manSourceTree(t)
	dir := t.TempDir()
	bin, nodes := t.TempDir(), filepath.Join(dir, "nodes")
	record := recorder(t, bin, "pdcp", `[ "$1" = -a ] && [ $# = 3 ] || exit 1
if [ -d "$2" ] && [ ! -L "$2" ]; then mkdir -p "`+nodes+`$3"; else mkdir -p "`+nodes+`$(dirname "$3")" && cp -Pp "$2" "`+nodes+`$3"; fi
`)
	pidFile, dumpDir := filepath.Join(dir, "pid"), t.TempDir()
	sink := newSyslogSink(t)
	r := startManExample(t, withBin(clsyncOnPath(t), bin), "", sink.prefix(t), manScript(
		`clsync -Msimple -S pdcp -W /opt/global -b -Y syslog --  -a  %INCLUDE-LIST% %INCLUDE-LIST%`,
		[]string{"-z", pidFile, "--dump-dir", dumpDir},
		"/opt/global", src))
	daemon := manDaemon(t, r, pidFile)
	var want []string
	for _, o := range objects(t, src) {
		p := filepath.Join(src, o)
		want = append(want, src+" -a "+p+" "+p)
	}
	got := func() []string { l := lines(record); sort.Strings(l); return l }
	waitFor(t, "a pdcp run for every object", func() bool { return len(got()) >= len(want) })
	if g := got(); !slices.Equal(g, want) {
		t.Errorf("pdcp runs (cwd, argv) %q, want one per object %q", g, want)
	}
	// A run records its arguments before it copies: the last copy may
	// still be under way.
	waitFor(t, "the nodes to hold the tree", mirrored(src, nodes+src))
	sink.logsToSyslog(t, r, daemon)
	quitDaemon(t, daemon, pidFile)
}

// Copying files to slave-nodes using uftp(1):
//
//	clsync -Mdirect -S uftp -W/opt/global --background=1 --output=syslog -- -M 248.225.233.1 %INCLUDE-LIST%
//
// uftp multicasts to other hosts: a recording script named uftp on PATH
// stands in for it and records its working directory and arguments. The
// delays are the default 30 s: the initial sync hands every object to one
// uftp run, and SIGQUIT stops the daemon cleanly. The test adds a pid file
// to find the daemon and runs it with a syslog socket of its own.
func TestManPageUftp(t *testing.T) {
	src, _ := manSourceTree(t)
	dir := t.TempDir()
	bin := t.TempDir()
	record := recorder(t, bin, "uftp", "")
	pidFile, dumpDir := filepath.Join(dir, "pid"), t.TempDir()
	sink := newSyslogSink(t)
	r := startManExample(t, withBin(clsyncOnPath(t), bin), "", sink.prefix(t), manScript(
		`clsync  -Mdirect	-S  uftp  -W/opt/global	 --background=1 --output=syslog -- -M 248.225.233.1 %INCLUDE-LIST%`,
		[]string{"-z", pidFile, "--dump-dir", dumpDir},
		"/opt/global", src))
	daemon := manDaemon(t, r, pidFile)
	waitFor(t, "the uftp run", func() bool { return len(lines(record)) > 0 })
	got := strings.Fields(lines(record)[0])
	if len(got) < 3 || got[0] != src || got[1] != "-M" || got[2] != "248.225.233.1" {
		t.Fatalf("uftp ran as %q in %s, want -M 248.225.233.1 and the objects, in %s", got[1:], got[0], src)
	}
	paths := slices.Sorted(slices.Values(got[3:]))
	if want := objects(t, src); !slices.Equal(paths, want) {
		t.Errorf("uftp was given %q, want every object relative to the watch dir %q", paths, want)
	}
	sink.logsToSyslog(t, r, daemon)
	quitDaemon(t, daemon, pidFile)
	if n := len(lines(record)); n != 1 {
		t.Errorf("%d uftp runs, want 1: %q", n, lines(record))
	}
}

// A dry running to see rsync(1) arguments that clsync will use:
//
//	clsync -Mrsyncdirect -S echo -W/path/to/source_dir -D/path/to/destination_dir
//
// echo prints the arguments rsync would get (clsync-go passes a handler's
// stdout to its stderr; clsync 0.4.5 to its stdout: both are read).
func TestManPageDryRunRsync(t *testing.T) {
	src, dst := manSourceTree(t)
	r := startManExample(t, clsyncOnPath(t), "", nil, manScript(
		`clsync	-Mrsyncdirect	 -S	echo	 -W/path/to/source_dir	-D/path/to/destination_dir`, nil,
		"/path/to/source_dir", src, "/path/to/destination_dir", dst))
	printed := func() string { return r.stdout.String() + r.stderr.String() }
	r.waitFor(t, "the printed arguments", func() bool { return strings.Contains(printed(), dst+"/\n") })
	r.quit(t)
	out := strings.Split(strings.TrimSuffix(printed(), "\n"), "\n")
	if len(out) != 1 {
		t.Fatalf("output %q, want one line: the arguments of the initial sync", out)
	}
	args := strings.Fields(out[0])
	ok := len(args) >= 9 && args[0] == "-aH" && slices.Contains(args, "--delete") && args[len(args)-3] == "--exclude=*" &&
		args[len(args)-2] == src+"/" && args[len(args)-1] == dst+"/"
	for _, opt := range []string{"--exclude-from", "--include-from"} {
		i := slices.Index(args, opt)
		ok = ok && i > 0 && i+1 < len(args) && filepath.IsAbs(args[i+1])
	}
	if !ok {
		t.Errorf("printed %q, want -aH ... --delete --exclude-from FILE --include-from FILE --exclude=* %s/ %s/", args, src, dst)
	}
	if entries, _ := os.ReadDir(dst); len(entries) != 0 {
		t.Errorf("a dry run wrote to the destination: %v", entries)
	}
}

// An another dry running to look how clsync will call pdcp(1):
//
//	clsync -Msimple -S echo -W /opt/global -b0 -- pdcp -a %INCLUDE-LIST% %INCLUDE-LIST%
func TestManPageDryRunPdcp(t *testing.T) {
	src, _ := manSourceTree(t)
	r := startManExample(t, clsyncOnPath(t), "", nil, manScript(
		`clsync  -Msimple	-S  echo  -W  /opt/global  -b0 -- pdcp -a %INCLUDE-LIST% %INCLUDE-LIST%`, nil,
		"/opt/global", src))
	var want []string
	for _, o := range objects(t, src) {
		p := filepath.Join(src, o)
		want = append(want, "pdcp -a "+p+" "+p)
	}
	printed := func() []string {
		l := strings.Split(strings.TrimSuffix(r.stdout.String()+r.stderr.String(), "\n"), "\n")
		sort.Strings(l)
		return l
	}
	r.waitFor(t, "a line per object", func() bool { return len(printed()) >= len(want) })
	r.quit(t)
	if got := printed(); !slices.Equal(got, want) {
		t.Errorf("printed %q, want one pdcp call per object %q", got, want)
	}
}

// Automatically run 'make build' if any '*.c' file changed:
//
//	printf "%s\n" "+f.c$" "-f" | clsync --have-recursive-sync -W . -R /dev/stdin -Mdirect -r1 --ignore-failures -t1 -w1 -Smake -- build
//
// Run in a source tree whose Makefile records each build outside the tree,
// one line at its end: "ok" or "failed" (while a .c file says BROKEN) and
// what the .c files held when it decided.
func TestManPageMakeBuild(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	tree, record := t.TempDir(), filepath.Join(t.TempDir(), "builds")
	os.WriteFile(filepath.Join(tree, "Makefile"), []byte("build:\n"+
		"\t@s=\"$$(cat *.c | tr '\\n' ' ')\"; case \"$$s\" in *BROKEN*) echo \"failed $$s\" >> "+record+"; exit 1;; esac; echo \"ok $$s\" >> "+record+"\n"), 0o644)
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(tree, name), []byte(content+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.c", "main-1")
	write("util.c", "util-1")
	write("notes.txt", "notes-1")
	r := startManExample(t, clsyncOnPath(t), tree, nil,
		`printf "%s\n" "+f.c$" "-f" | clsync --have-recursive-sync	 -W  . -R  /dev/stdin  -Mdirect -r1 --ignore-failures -t1 -w1 -Smake -- build`)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("make's record: %q", lines(record))
		}
	})
	builds := func() []string {
		var out []string
		for _, l := range lines(record) {
			out = append(out, strings.TrimSpace(l))
		}
		return out
	}
	waitBuild := func(what, build string) {
		t.Helper()
		r.waitFor(t, what, func() bool { return slices.Contains(builds(), build) })
	}
	waitBuild("the build at start", "ok main-1 util-1")
	write("main.c", "main-2")
	waitBuild("the build after main.c changed", "ok main-2 util-1")
	// notes.txt is no .c file: no build for it. The next change of a .c
	// file is the barrier: its build shows the earlier change was seen.
	write("notes.txt", "notes-2")
	write("util.c", "util-2")
	waitBuild("the build after util.c changed", "ok main-2 util-2")
	if got := builds(); len(got) != 3 {
		t.Fatalf("builds %q, want 3: a change of notes.txt started make", got)
	}
	// --ignore-failures: a failing build does not stop the agent, and the
	// next change builds again.
	write("main.c", "BROKEN")
	waitBuild("the failing build", "failed BROKEN util-2")
	write("main.c", "main-3")
	waitBuild("a good build after the failure", "ok main-3 util-2")
	r.quit(t)
}
