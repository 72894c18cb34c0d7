package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// nobody is the unprivileged identity the tests give handlers.
const nobody = 65534

// rootHandlerCaps is what a root rsync handler keeps to preserve owners and
// modes, as privsep.md 2.4 measured.
const rootHandlerCaps = 1<<unix.CAP_CHOWN | 1<<unix.CAP_DAC_OVERRIDE | 1<<unix.CAP_FOWNER | 1<<unix.CAP_FSETID

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the shim mounts, pivots, cuts capabilities and changes ids")
	}
}

// TestMain lets the test binary stand in for the agent (shimMain).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == testShim {
		os.Exit(shimMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// shimSpec is a Spec and the ids the handler runs as, which the agent
// sets in SysProcAttr.Credential.
type shimSpec struct {
	Spec
	SetIDs   bool
	UID, GID uint32
	Groups   []uint32
}

// testShim makes the test binary stand in for the agent (see TestMain): it
// starts argv from a Launcher, as the agent does, and exits with its code.
const testShim = "__sandboxed"

// shimCommand is the argv that runs argv under s through the test binary.
func shimCommand(self string, s any, argv []string) []string {
	spec, ok := s.(shimSpec)
	if !ok {
		spec = shimSpec{Spec: s.(Spec)}
	}
	enc, _ := json.Marshal(spec)
	return append([]string{self, testShim, string(enc), "--"}, argv...)
}

// shimMain is the test binary as the agent: a Launcher for the spec in
// args[0] starts args[2:], with the ids as Credential.
func shimMain(args []string) int {
	var s shimSpec
	if len(args) < 3 || args[1] != "--" || json.Unmarshal([]byte(args[0]), &s) != nil {
		fmt.Fprintln(os.Stderr, "usage: __sandboxed SPEC -- PROGRAM [ARG...]")
		return 2
	}
	cmd := exec.Command(args[2], args[3:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	if s.SetIDs {
		groups := s.Groups
		if groups == nil {
			groups = []uint32{}
		}
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: s.UID, Gid: s.GID, Groups: groups}
	}
	if err := NewLauncher(s.Spec).Run(cmd.Start); err != nil {
		fmt.Fprintf(os.Stderr, "clsync: %v\n", err)
		return exitCannotRun
	}
	cmd.Wait()
	return cmd.ProcessState.ExitCode()
}

// exitCannotRun is the stand-in's exit code when the handler could not
// start, the shell's code for "found but could not execute".
const exitCannotRun = 126

// shimArgv is the argv that runs argv under s through the test binary.
func shimArgv(t *testing.T, s any, argv ...string) []string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return shimCommand(self, s, argv)
}

// runArgv runs a full argv and returns its combined output and exit code.
func runArgv(t *testing.T, attr *syscall.SysProcAttr, argv []string) (string, int) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = attr
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	default:
		t.Fatalf("run %q: %v", argv, err)
		return "", -1
	}
}

// runShim runs argv under s (a Spec or a shimSpec) through the stand-in.
func runShim(t *testing.T, s any, argv ...string) (string, int) {
	t.Helper()
	return runArgv(t, nil, shimArgv(t, s, argv...))
}

// lastLine is the last unindented line of an output, where shell tools and
// Python tracebacks put the error (mount(8) indents a hint after it).
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for _, l := range slices.Backward(lines) {
		if l != "" && l[0] != ' ' && l[0] != '\t' {
			return l
		}
	}
	return ""
}

func TestLauncherRefusesABadSpec(t *testing.T) {
	out, code := runShim(t, Spec{Landlock: true, WriteDirs: []string{"dst"}}, "true")
	if code != exitCannotRun || !strings.Contains(out, `"dst" is not an absolute path`) {
		t.Errorf("exit %d, output %q; want 126 and the reason", code, out)
	}
}

func TestCheck(t *testing.T) {
	if err := (Spec{Chroot: "/j", PivotRoot: PivotAutoRO, ReadDirs: []string{"/a"}}).Check(); err != nil {
		t.Errorf("valid spec: %v", err)
	}
	err := Spec{PivotRoot: "x"}.Check()
	if err == nil || !strings.HasPrefix(err.Error(), "handler sandbox: pivot-root") {
		t.Errorf("bad pivot mode: %v", err)
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{
		`/plain`: "/plain", `/a\040b`: "/a b", `/tab\011x\134`: "/tab\tx\\", `/odd\04`: `/odd\04`,
	} {
		if got := unescapeMountinfo(in); got != want {
			t.Errorf("unescapeMountinfo(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLandlockABI(t *testing.T) {
	raw, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	want := int(raw)
	if errno != 0 {
		want = 0
	}
	t.Logf("Landlock ABI %d", LandlockABI())
	if LandlockABI() != want {
		t.Errorf("LandlockABI() = %d, kernel says %d", LandlockABI(), want)
	}
}

// statusField returns a field of a /proc/PID/status dump.
func statusField(status, name string) string {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "<missing>"
}

// snapshot describes a tree: type, mode, owner, mtime and content of every
// entry, keyed by relative path.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		desc := fmt.Sprintf("mode=%o uid=%d gid=%d", st.Mode, st.Uid, st.Gid)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" mtime=%d %q", st.Mtim.Nano(), data)
		default:
			desc += fmt.Sprintf(" mtime=%d", st.Mtim.Nano())
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sandboxBase is a fresh directory every identity can traverse and (like
// /tmp) write, so that what a handler is refused there is refused by the
// sandbox, not by permissions.
func sandboxBase(t *testing.T) string {
	t.Helper()
	base, err := os.MkdirTemp("", "clsync-sandbox-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o1777); err != nil {
		t.Fatal(err)
	}
	return base
}

// TestHostileHandler runs a handler that tries to get out of Landlock and a
// read-only root, as root (with the capabilities an rsync handler keeps)
// and as nobody. Everything but reading src and writing dst must fail, and
// rsync -a src/ dst/ must still work.
func TestHostileHandler(t *testing.T) {
	needRoot(t)
	if LandlockABI() < 6 {
		t.Skipf("needs Landlock ABI 6 (TCP and scopes), kernel has %d", LandlockABI())
	}
	base := sandboxBase(t)
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	secret := filepath.Join(base, "secret")
	mustWrite(t, secret, "top secret", 0o644)
	for _, d := range []string{src, filepath.Join(src, "sub"), dst} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(t, filepath.Join(src, "a"), "alpha", 0o640)
	mustWrite(t, filepath.Join(src, "sub", "b"), "beta", 0o600)
	if err := os.Symlink("a", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	// Owned by nobody, so that for the nobody handler the permissions
	// allow chmod, utime and writes: only the sandbox refuses them.
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, p := range []string{filepath.Join(src, "sub", "b"), filepath.Join(src, "a"), filepath.Join(src, "sub"), src} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{src, filepath.Join(src, "a"), filepath.Join(src, "sub"), filepath.Join(src, "sub", "b"), filepath.Join(src, "link"), dst} {
		if err := os.Lchown(p, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	srcBefore := snapshot(t, src)

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	tmpTarget := filepath.Join("/tmp", fmt.Sprintf("clsync-sandbox-pwned-%d", os.Getpid()))
	t.Cleanup(func() { os.Remove(tmpTarget) })

	asRoot := shimSpec{Spec: Spec{Landlock: true, ReadOnlyRoot: true, ReadDirs: []string{src}, WriteDirs: []string{dst}, Bounding: rootHandlerCaps}}
	asNobody := asRoot
	asNobody.Bounding, asNobody.NoNewPrivs, asNobody.SetIDs, asNobody.UID, asNobody.GID = 0, true, true, nobody, nobody

	// The job the sandbox is for.
	out, code := runShim(t, asRoot, "rsync", "-a", src+"/", dst+"/")
	t.Logf("root    rsync -a src/ dst/: exit %d %s", code, strings.TrimSpace(out))
	if code != 0 {
		t.Fatalf("rsync under the sandbox failed: exit %d: %s", code, out)
	}
	if got := snapshot(t, dst); !mapsEqual(got, srcBefore) {
		t.Errorf("dst after rsync differs from src:\n dst %v\n src %v", got, srcBefore)
	}

	py := func(code string, args ...string) []string {
		return append([]string{"/usr/bin/python3", "-I", "-c", code}, args...)
	}
	sh := func(script string) []string { return []string{"/bin/sh", "-c", script} }
	a := filepath.Join(src, "a")
	for _, who := range []struct {
		name string
		spec shimSpec
		uid  string
		nnp  string // a root handler goes without no_new_privs (see Spec)
	}{{"root", asRoot, "0", "0"}, {"nobody", asNobody, strconv.Itoa(nobody), "1"}} {
		// What must keep working.
		for _, ok := range []struct {
			name string
			argv []string
			want string
		}{
			{"read a file in src", []string{"cat", a}, "alpha"},
			{"write in dst", sh("echo ok > " + dst + "/.probe && cat " + dst + "/.probe && rm " + dst + "/.probe"), "ok"},
			{"own status", []string{"cat", "/proc/self/status"}, "NoNewPrivs:\t" + who.nnp},
		} {
			out, code := runShim(t, who.spec, ok.argv...)
			seen := lastLine(out)
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, ok.want) {
					seen = l
				}
			}
			t.Logf("%-7s %-30s exit %d: %s", who.name, ok.name, code, seen)
			if code != 0 || !strings.Contains(out, ok.want) {
				t.Errorf("%s: %s: exit %d, output %q; want success with %q", who.name, ok.name, code, out, ok.want)
			}
		}
		out, _ := runShim(t, who.spec, "cat", "/proc/self/status")
		if got := statusField(out, "Uid"); got != strings.Repeat(who.uid+"\t", 3)+who.uid {
			t.Errorf("%s: Uid %q", who.name, got)
		}

		hostile := []struct {
			name string
			argv []string
			want string // in the output, naming the mechanism; "" for any refusal
		}{
			{"write in the parent of dst", sh("echo x > " + base + "/pwned"), ""},
			{"write in /tmp", sh("echo x > " + tmpTarget), ""},
			{"read a secret outside src", []string{"cat", secret}, "Permission denied"},
			{"chmod in src", []string{"chmod", "0666", a}, "Read-only file system"},
			{"chown in src", []string{"chown", "65534:65534", a}, "Read-only file system"},
			{"utime in src (touch -d)", []string{"touch", "-d", "2001-01-01", a}, ""},
			{"append to a file in src", sh("echo x >> " + a), ""},
			{"create a file in src", sh("echo x > " + src + "/new"), ""},
			{"rm in src", []string{"rm", "-f", a}, ""},
			{"TCP connect to 127.0.0.1", py("import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 2)", port), "PermissionError"},
			{"open a raw socket", py("import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)"), "PermissionError"},
			{"signal the agent", sh("kill -0 " + strconv.Itoa(os.Getpid())), ""},
			{"mount a tmpfs on dst", []string{"mount", "-t", "tmpfs", "none", dst}, ""},
		}
		if who.name == "nobody" {
			hostile = append(hostile, struct {
				name string
				argv []string
				want string
			}{"setuid(0)", py("import os; os.setuid(0)"), "PermissionError"})
		}
		for _, h := range hostile {
			out, code := runShim(t, who.spec, h.argv...)
			t.Logf("%-7s %-30s exit %d: %s", who.name, h.name, code, lastLine(out))
			if code == 0 || code == exitCannotRun || !strings.Contains(out, h.want) {
				t.Errorf("%s: %s: exit %d, output %q; want a refusal with %q", who.name, h.name, code, out, h.want)
			}
		}
	}

	// Landlock alone, for the record: it refuses reads and writes by
	// itself, but not metadata changes (privsep.md 3), which is why
	// ReadOnlyRoot exists. The metadata calls set what is already there.
	landlockOnly := asRoot
	landlockOnly.ReadOnlyRoot = false
	for _, c := range []struct {
		name    string
		argv    []string
		refused bool
	}{
		{"write in the parent of dst", sh("echo x > " + base + "/pwned"), true},
		{"create a file in src", sh("echo x > " + src + "/new"), true},
		{"rm in src", []string{"rm", "-f", a}, true},
		{"read a secret outside src", []string{"cat", secret}, true},
		{"chmod in src (same mode)", []string{"chmod", "0640", a}, false},
		{"chown in src (same owner)", []string{"chown", "65534:65534", a}, false},
		{"utime in src (same time)", []string{"touch", "-c", "-d", fmt.Sprintf("@%d", old.Unix()), a}, false},
	} {
		out, code := runShim(t, landlockOnly, c.argv...)
		t.Logf("root, Landlock only: %-26s exit %d: %s", c.name, code, lastLine(out))
		if c.refused && (code == 0 || !strings.Contains(out, "Permission denied")) {
			t.Errorf("Landlock alone: %s: exit %d, output %q; want Permission denied", c.name, code, out)
		}
	}

	if got := snapshot(t, src); !mapsEqual(got, srcBefore) {
		t.Errorf("src changed:\n now    %v\n before %v", got, srcBefore)
	}
	for _, p := range []string{filepath.Join(base, "pwned"), tmpTarget} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was created", p)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("the listener accepted %d connections", n)
	}
}

func mustWrite(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestCredsAndBounding checks the ids and capability sets a handler gets.
// The shim is started with two ambient capabilities outside the bounding
// mask: a root handler must not get them back through the inheritable set.
func TestCredsAndBounding(t *testing.T) {
	needRoot(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ambient := []uintptr{unix.CAP_NET_RAW, unix.CAP_SYS_ADMIN}
	status := func(s any) string {
		t.Helper()
		out, code := runArgv(t, &syscall.SysProcAttr{AmbientCaps: ambient}, shimCommand(self, s, []string{"cat", "/proc/self/status"}))
		if code != 0 {
			t.Fatalf("%+v: exit %d: %s", s, code, out)
		}
		return out
	}
	hex := func(v uint64) string { return fmt.Sprintf("%016x", v) }
	caps := []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}
	logCaps := func(name, st string) {
		var b strings.Builder
		for _, f := range append([]string{"Uid", "Gid", "Groups", "NoNewPrivs"}, caps...) {
			fmt.Fprintf(&b, " %s=%s", f, strings.ReplaceAll(statusField(st, f), "\t", ","))
		}
		t.Logf("%-24s%s", name, b.String())
	}

	st := status(Spec{})
	logCaps("root, no bounding:", st)
	leak := uint64(1<<unix.CAP_NET_RAW | 1<<unix.CAP_SYS_ADMIN)
	if statusField(st, "CapAmb") != hex(leak) {
		t.Fatalf("control: the shim did not get the ambient capabilities: CapAmb %s", statusField(st, "CapAmb"))
	}

	st = status(Spec{Bounding: rootHandlerCaps})
	logCaps("root, bounding 1b:", st)
	for f, want := range map[string]uint64{"CapBnd": rootHandlerCaps, "CapEff": rootHandlerCaps, "CapPrm": rootHandlerCaps, "CapInh": 0, "CapAmb": 0} {
		if got := statusField(st, f); got != hex(want) {
			t.Errorf("root handler %s = %s, want %s", f, got, hex(want))
		}
	}
	if statusField(st, "Uid") != "0\t0\t0\t0" {
		t.Errorf("root handler Uid = %q", statusField(st, "Uid"))
	}

	for _, c := range []struct {
		groups []uint32
		want   string
	}{{nil, ""}, {[]uint32{100, 4}, "4 100"}} {
		st = status(shimSpec{Spec: Spec{NoNewPrivs: true}, SetIDs: true, UID: nobody, GID: nobody, Groups: c.groups})
		logCaps(fmt.Sprintf("nobody, groups %v:", c.groups), st)
		all := "65534\t65534\t65534\t65534"
		if statusField(st, "Uid") != all || statusField(st, "Gid") != all {
			t.Errorf("nobody handler Uid %q Gid %q, want %q", statusField(st, "Uid"), statusField(st, "Gid"), all)
		}
		if got := statusField(st, "Groups"); got != c.want {
			t.Errorf("nobody handler Groups %q, want %q", got, c.want)
		}
		// CapInh stays the shim's: SetIDs changes ids, not that set.
		for _, f := range []string{"CapPrm", "CapEff", "CapAmb"} {
			if got := statusField(st, f); got != hex(0) {
				t.Errorf("nobody handler %s = %s, want 0", f, got)
			}
		}
	}
}

// TestForbidDevices checks that only the allowed nodes can be opened, even
// by a root handler with every capability and a node it made with mknod.
func TestForbidDevices(t *testing.T) {
	needRoot(t)
	block := ""
	entries, _ := os.ReadDir("/dev")
	for _, e := range entries {
		if e.Type()&fs.ModeDevice != 0 && e.Type()&fs.ModeCharDevice == 0 {
			block = "/dev/" + e.Name()
			break
		}
	}
	dir := t.TempDir()
	node := filepath.Join(dir, "kmsg")
	// Made by the handler in the sandbox, or here for the control run.
	mknodOpen := fmt.Sprintf("rm -f %[1]s; mknod %[1]s c 1 11 && : < %[1]s", node)
	sh := func(script string) []string { return []string{"/bin/sh", "-c", script} }

	out, code := runShim(t, Spec{}, sh(mknodOpen)...)
	t.Logf("control, no sandbox: mknod + open kmsg: exit %d %s", code, lastLine(out))
	if code != 0 {
		t.Fatalf("control: a node made with mknod cannot be opened even without the sandbox: %s", out)
	}

	s := Spec{ForbidDevices: true}
	refused := [][]string{sh(": < /dev/kmsg"), sh(": < /dev/mem"), sh(mknodOpen), sh("touch /dev/evil")}
	if block != "" {
		refused = append(refused, []string{"head", "-c1", block})
	}
	for _, argv := range refused {
		out, code := runShim(t, s, argv...)
		t.Logf("refused? %-60q exit %d: %s", strings.Join(argv, " "), code, lastLine(out))
		if code == 0 || code == exitCannotRun {
			t.Errorf("%q: exit %d, output %q; want a refusal", argv, code, out)
		}
	}
	out, code = runShim(t, s, sh("echo x > /dev/null && head -c 16 /dev/urandom | wc -c && head -c 4 /dev/zero | wc -c")...)
	t.Logf("null, urandom, zero: exit %d: %q", code, out)
	if code != 0 || strings.Fields(out)[0] != "16" || strings.Fields(out)[1] != "4" {
		t.Errorf("allowed devices: exit %d, output %q", code, out)
	}
	out, code = runShim(t, s, "ls", "-A", "/dev")
	got := strings.Join(strings.Fields(out), " ")
	t.Logf("ls -A /dev: %s", got)
	if want := "fd full null random stderr stdin stdout tty urandom zero"; code != 0 || got != want {
		t.Errorf("/dev holds %q, want %q", got, want)
	}
	if block != "" {
		if _, err := os.Stat(block); err != nil {
			t.Errorf("the host lost %s: %v", block, err)
		}
	}
}

// probeSource is a static handler for chroots, which have no shell: each
// argument is op:path and prints one line.
const probeSource = `package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

func main() {
	for _, a := range os.Args[1:] {
		op, p, _ := strings.Cut(a, ":")
		var res string
		var err error
		switch op {
		case "ls":
			var es []os.DirEntry
			if es, err = os.ReadDir(p); err == nil {
				var names []string
				for _, e := range es {
					names = append(names, e.Name())
				}
				sort.Strings(names)
				res = strings.Join(names, " ")
			}
		case "read":
			var b []byte
			b, err = os.ReadFile(p)
			res = strings.TrimSpace(string(b))
		case "write":
			err = os.WriteFile(p, []byte("x"), 0o644)
		case "stat":
			_, err = os.Stat(p)
		case "uid":
			res = fmt.Sprint(os.Getuid())
		}
		if err != nil {
			fmt.Printf("%s err %v\n", a, err)
		} else {
			fmt.Printf("%s ok %s\n", a, res)
		}
	}
}
`

// buildProbe builds probeSource statically into dir/bin/probe.
func buildProbe(t *testing.T, dir string) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build a static probe for the chroot: %v", err)
	}
	srcDir := t.TempDir()
	mustWrite(t, filepath.Join(srcDir, "go.mod"), "module probe\n\ngo 1.22\n", 0o644)
	mustWrite(t, filepath.Join(srcDir, "main.go"), probeSource, 0o644)
	out := filepath.Join(dir, "bin", "probe")
	cmd := exec.Command(goCmd, "build", "-o", out, ".")
	cmd.Dir = srcDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the probe: %v\n%s", err, b)
	}
	return out
}

// hostMounts is the host's mount table as "id mountpoint" lines.
func hostMounts(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		out = append(out, f[0]+" "+unescapeMountinfo(f[4]))
	}
	return out
}

// TestChrootPivot enters a small tree with each --pivot-root mode.
func TestChrootPivot(t *testing.T) {
	needRoot(t)
	base := sandboxBase(t)
	root := filepath.Join(base, "root")
	for _, d := range []string{"bin", "data", "dev", "out", "proc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	probe := buildProbe(t, root)
	mustWrite(t, filepath.Join(root, "marker"), "new root", 0o644)
	mustWrite(t, filepath.Join(root, "data", "f"), "data", 0o644)
	if err := os.Chown(filepath.Join(root, "out"), nobody, nobody); err != nil {
		t.Fatal(err)
	}
	mountsBefore := hostMounts(t)
	const tree = "bin data dev marker out proc"

	check := func(name string, s any, argv []string, want ...string) {
		t.Helper()
		out, code := runShim(t, s, argv...)
		t.Logf("%s: exit %d\n%s", name, code, strings.TrimSpace(out))
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q", name, w)
			}
		}
	}
	check("auto-ro", Spec{Chroot: root, PivotRoot: PivotAutoRO},
		[]string{"/bin/probe", "ls:/", "read:/marker", "write:/x", "stat:/old_root"},
		"ls:/ ok "+tree+"\n", "read:/marker ok new root", "write:/x err open /x: read-only file system", "stat:/old_root err")
	check("auto", Spec{Chroot: root, PivotRoot: PivotAuto},
		[]string{"/bin/probe", "ls:/", "write:/x"}, "ls:/ ok "+tree+"\n", "write:/x ok")
	if err := os.Remove(filepath.Join(root, "x")); err != nil {
		t.Errorf("auto: the handler's write did not reach the tree: %v", err)
	}
	check("off (chroot(2))", Spec{Chroot: root, PivotRoot: PivotOff},
		[]string{"/bin/probe", "ls:/", "read:/marker"}, "ls:/ ok "+tree+"\n", "read:/marker ok new root")
	check("off + read-only root", Spec{Chroot: root, PivotRoot: PivotOff, ReadOnlyRoot: true},
		[]string{"/bin/probe", "ls:/", "write:/x"}, "ls:/ ok "+tree+"\n", "write:/x err open /x: read-only file system")
	out, code := runShim(t, Spec{Chroot: root, PivotRoot: PivotDirect}, "/bin/probe", "ls:/")
	t.Logf("direct on a plain directory: exit %d: %s", code, strings.TrimSpace(out))
	if code != exitCannotRun || !strings.Contains(out, "is not a mount point") {
		t.Errorf("direct on a directory that is no mount point: exit %d, %q", code, out)
	}

	// direct on a mount point, which needs no old_root: a tmpfs mounted by
	// a wrapper in a throwaway mount namespace, like an admin's mount.
	mnt := filepath.Join(base, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("unshare"); err == nil {
		script := fmt.Sprintf(`mount -t tmpfs tmpfs %[1]s && mkdir %[1]s/bin && cp %[2]s %[1]s/bin/ && echo tmpfs root > %[1]s/marker && exec "$@"`, mnt, probe)
		argv := append([]string{"unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"},
			shimArgv(t, Spec{Chroot: mnt, PivotRoot: PivotDirect}, "/bin/probe", "ls:/", "read:/marker")...)
		out, code := runArgv(t, nil, argv)
		t.Logf("direct on a tmpfs: exit %d\n%s", code, strings.TrimSpace(out))
		if code != 0 || !strings.Contains(out, "ls:/ ok bin marker\n") || !strings.Contains(out, "read:/marker ok tmpfs root") {
			t.Errorf("direct on a mount point: exit %d, %q", code, out)
		}
		// Mountpoints after a pivot: the list must be the new root's.
		script = fmt.Sprintf(`mount -t proc proc %[1]s/proc && mount -t tmpfs tmpfs %[1]s/out && exec "$@"`, root)
		argv = append([]string{"unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"},
			shimArgv(t, Spec{Chroot: root, PivotRoot: PivotAuto, Mountpoints: []string{"/", "/proc"}}, "/bin/probe", "read:/proc/self/mountinfo")...)
		out, code = runArgv(t, nil, argv)
		var mps []string
		for _, line := range strings.Split(strings.TrimSpace(strings.TrimPrefix(out, "read:/proc/self/mountinfo ok ")), "\n") {
			if f := strings.Fields(line); len(f) >= 5 {
				mps = append(mps, f[4])
			}
		}
		t.Logf("auto + mountpoints / /proc, with tmpfs on /out: exit %d, handler sees %q", code, mps)
		if code != 0 || !slices.Equal(sorted(mps), []string{"/", "/proc"}) {
			t.Errorf("mountpoints in a new root: exit %d, %q", code, out)
		}
	} else {
		t.Logf("no unshare(1): direct on a mount point and mountpoints in a new root not tried")
	}

	// Everything together, as nobody: Landlock and the read-only root in
	// the new root, devices from the host.
	all := shimSpec{Spec: Spec{Chroot: root, PivotRoot: PivotAuto, ReadOnlyRoot: true, ForbidDevices: true,
		Landlock: LandlockABI() > 0, ReadDirs: []string{"/data"}, WriteDirs: []string{"/out"}, NoNewPrivs: true},
		SetIDs: true, UID: nobody, GID: nobody}
	want := []string{"uid: ok 65534", "write:/out/y ok", "write:/x err", "read:/data/f ok data", "stat:/dev/null ok", "stat:/dev/kmsg err"}
	if all.Landlock {
		want = append(want, "read:/marker err open /marker: permission denied")
	}
	check("auto + read-only root + devices + Landlock + nobody", all,
		[]string{"/bin/probe", "uid:", "write:/out/y", "write:/x", "read:/data/f", "read:/marker", "stat:/dev/null", "stat:/dev/kmsg"}, want...)
	if _, err := os.Stat(filepath.Join(root, "out", "y")); err != nil {
		t.Errorf("the write to /out did not reach the tree: %v", err)
	}

	// Nothing is left behind on the host.
	for _, p := range []string{filepath.Join(root, "old_root"), "/dev/shm/clsync-rootfs", filepath.Join(root, "x")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s exists on the host", p)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "host-write"), nil, 0o644); err != nil {
		t.Errorf("the tree became read-only on the host: %v", err)
	}
	if entries, _ := os.ReadDir(mnt); len(entries) != 0 {
		t.Errorf("the wrapper's tmpfs leaked to the host: %v", entries)
	}
	if after := hostMounts(t); !slices.Equal(mountsOutside(mountsBefore, "/tmp/"), mountsOutside(after, "/tmp/")) ||
		slices.ContainsFunc(after, func(m string) bool { return strings.Contains(m, base) }) {
		t.Errorf("host mounts changed:\n before %q\n after  %q", mountsBefore, after)
	}
}

// mountsOutside drops the mounts under prefix, where other tests of the
// repository may mount and unmount concurrently.
func mountsOutside(mounts []string, prefix string) []string {
	return slices.DeleteFunc(slices.Clone(mounts), func(m string) bool {
		_, mp, _ := strings.Cut(m, " ")
		return strings.HasPrefix(mp, prefix)
	})
}

// handlerMountPoints runs cat /proc/self/mountinfo through argv and returns
// the mount points the handler sees.
func handlerMountPoints(t *testing.T, argv []string) []string {
	t.Helper()
	out, code := runArgv(t, &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}, argv)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	var mps []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			t.Fatalf("not mountinfo: %q", out)
		}
		mps = append(mps, unescapeMountinfo(f[4]))
	}
	return mps
}

// TestMountpoints keeps only the listed mounts (and their parents) in the
// handler's namespace and leaves the host's alone, including a mount with
// shared propagation if the host has one.
func TestMountpoints(t *testing.T) {
	needRoot(t)
	base := sandboxBase(t)
	src, dst := filepath.Join(base, "src dir"), filepath.Join(base, "dst")
	for _, d := range []string{src, dst, filepath.Join(base, "other")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	before := hostMounts(t)
	s := Spec{Mountpoints: []string{"/", "/proc", src, dst}}

	mps := handlerMountPoints(t, shimArgv(t, s, "cat", "/proc/self/mountinfo"))
	t.Logf("host mounts: %d, handler sees %q", len(before), mps)
	for _, mp := range mps {
		if !slices.ContainsFunc(s.Mountpoints, func(l string) bool { return l == mp || strings.HasPrefix(l, mp+"/") || mp == "/" }) {
			t.Errorf("handler still sees %s", mp)
		}
	}
	if !slices.Contains(mps, "/proc") || !slices.Contains(mps, "/") {
		t.Errorf("handler lost a listed mount: %q", mps)
	}

	// Listed paths that are mounts, with a mount under one of them and an
	// unlisted one beside them, made by a wrapper in a throwaway namespace.
	if _, err := exec.LookPath("unshare"); err == nil {
		script := `for d in "$1" "$2" "$3"; do mount -t tmpfs tmpfs "$d" || exit 1; done; mkdir "$1/inner" && mount -t tmpfs tmpfs "$1/inner" && shift 3 && exec "$@"`
		argv := append([]string{"unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", src, dst, filepath.Join(base, "other")},
			shimArgv(t, s, "cat", "/proc/self/mountinfo")...)
		mps := handlerMountPoints(t, argv)
		t.Logf("with tmpfs on src, dst, src/inner and other, handler sees %q", mps)
		if want := []string{"/", "/proc", src, dst}; !slices.Equal(sorted(mps), sorted(want)) {
			t.Errorf("handler sees %q, want %q", mps, want)
		}

		// A systemd host has shared mounts, and a namespace made with
		// Cloneflags (or by a wrapper) keeps them shared, unlike Go's
		// Unshareflags. Inside a throwaway namespace: a shared tmpfs P
		// with a mount P/s under it, then a child namespace that keeps
		// the propagation (unshare --propagation unchanged) detaches P/s.
		// The control umount propagates to the outer P/s; the shim's
		// detach must not.
		p := filepath.Join(base, "other")
		outer := fmt.Sprintf(`mount -t tmpfs tmpfs %[1]s && mount --make-shared %[1]s && mkdir %[1]s/s && mount -t tmpfs tmpfs %[1]s/s &&
unshare --mount --propagation unchanged "$@" >/dev/null; grep -q ' %[1]s/s ' /proc/self/mountinfo && echo outer P/s still mounted || echo outer P/s lost`, p)
		for _, c := range []struct {
			name string
			argv []string
			want string
		}{
			{"control: umount -l", []string{"umount", "-l", p + "/s"}, "outer P/s lost"},
			{"shim, mountpoints / /proc", shimArgv(t, Spec{Mountpoints: []string{"/", "/proc"}}, "true"), "outer P/s still mounted"},
		} {
			argv := append([]string{"unshare", "--mount", "--propagation", "private", "sh", "-c", outer, "sh"}, c.argv...)
			out, code := runArgv(t, nil, argv)
			t.Logf("shared parent, %s: exit %d: %s", c.name, code, strings.TrimSpace(out))
			if code != 0 || strings.TrimSpace(out) != c.want {
				t.Errorf("shared parent, %s: exit %d, %q; want %q", c.name, code, out, c.want)
			}
		}
	} else {
		t.Logf("no unshare(1): listed mounts and shared propagation not tried")
	}

	after := hostMounts(t)
	if !slices.Equal(mountsOutside(before, "/tmp/"), mountsOutside(after, "/tmp/")) {
		t.Errorf("host mounts changed:\n before %q\n after  %q", before, after)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// A tree mirrored from /dev/shm stays reachable under ForbidDevices (with
// Landlock and a read-only root, as --secure-splitting --landlock runs).
func TestForbidDevicesKeepsTreesUnderDev(t *testing.T) {
	needRoot(t)
	base, err := os.MkdirTemp("/dev/shm", "clsync-sandbox-")
	if err != nil {
		t.Skip("no /dev/shm:", err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	for _, d := range []string{src, dst} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(t, filepath.Join(src, "f"), "x", 0o644)
	s := Spec{ForbidDevices: true, Landlock: true, ReadOnlyRoot: true, ReadDirs: []string{src}, WriteDirs: []string{dst}}
	out, code := runShim(t, s, "/bin/sh", "-c", "cp "+src+"/f "+dst+"/f && test ! -e /dev/kmsg")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	if data, err := os.ReadFile(filepath.Join(dst, "f")); err != nil || string(data) != "x" {
		t.Fatalf("the handler did not copy into the destination under /dev/shm: %q, %v", data, err)
	}
}
