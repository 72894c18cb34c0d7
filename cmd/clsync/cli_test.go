package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run runs the program in process and returns its exit code.
func run(ctx context.Context, argv []string, stdout, stderr io.Writer) int {
	code, _ := program(ctx, argv, false, stdout, stderr)
	return code
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

// runCLI runs the program in process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestPathChecks(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	dst := filepath.Join(dir, "dst")
	file := filepath.Join(dir, "file")
	lists := filepath.Join(dir, "lists")
	noexec := filepath.Join(dir, "noexec")
	for _, d := range []string{src, dst, lists} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{file, noexec} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shared := filepath.Join(dir, "shared")
	if err := os.Mkdir(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(shared, 0o777)
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-W" + missing, "-D" + dst}, 2, "watch dir"},
		{[]string{"-W" + file, "-D" + dst}, 20, "not a directory"},
		{[]string{"-W" + src, "-D" + missing}, 2, "destination dir"},
		{[]string{"-W" + src, "-D" + src + "/sub"}, 2, "destination dir"},
		{[]string{"-W" + src, "-D" + src}, 22, "overlap"},
		{[]string{"-W" + dir, "-D" + dst}, 22, "overlap"},
		{[]string{"-W" + src, "-D" + dst, "-S" + missing}, 2, "sync handler"},
		{[]string{"-W" + src, "-D" + dst, "-Sno-such-program-here"}, 2, "not found in PATH"},
		{[]string{"-W" + src, "-D" + dst, "-S" + noexec}, 13, "not executable"},
		{[]string{"-W" + src, "-D" + dst, "-L" + lists}, 13, "lets other users read or replace"},
		{[]string{"-W" + src, "-D" + dst, "-L" + shared}, 13, "lets other users read or replace"},
		{[]string{"-W" + src, "-D" + dst, "-L" + missing}, 2, "lists dir"},
		{[]string{"-W" + src, "-D" + dst, "-R" + missing}, 2, "rules file"},
		{[]string{"-W" + src, "-D" + dst, "--exit-hook=" + noexec}, 13, "exit hook"},
	} {
		code, _, stderr := runCLI(t, append([]string{"-H", "/NULL/", "-Mrsyncdirect"}, tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d %q, want exit %d with %q", tc.args, code, stderr, tc.code, tc.want)
		}
		if strings.Count(stderr, "\n") != 1 {
			t.Errorf("%q: not one line: %q", tc.args, stderr)
		}
		if entries, _ := os.ReadDir(dst); len(entries) != 0 {
			t.Fatalf("%q: the destination was touched", tc.args)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	code, out, _ := runCLI(t, "--help")
	if code != 0 || !strings.Contains(out, "--watch-dir") {
		t.Fatalf("--help exit %d, %q", code, out)
	}
	for _, args := range [][]string{{"-V"}, {"--version"}, {"--vers"}} {
		code, out, _ = runCLI(t, args...)
		if code != 0 || !strings.Contains(out, "clsync-go "+version) {
			t.Errorf("%q: exit %d, %q", args, code, out)
		}
	}
}

// Options whose behaviour is missing are refused through the whole
// program: one line naming the option, exit 22, nothing started.
// cliTree is a watch dir and a destination in dir, and where a pid file
// would go.
func cliTree(t *testing.T) (dir, src, dst, pid string) {
	t.Helper()
	dir = t.TempDir()
	src, dst, pid = filepath.Join(dir, "src"), filepath.Join(dir, "dst"), filepath.Join(dir, "pid")
	for _, d := range []string{src, dst} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir, src, dst, pid
}

func TestRefusedOptions(t *testing.T) {
	_, src, dst, pid := cliTree(t)
	for _, opt := range []string{"-CCAP_KILL", "--inherit-capabilities=permitted", "--seccomp-filter", "--privileged-uid=0",
		"--check-execvp-arguments", "--exit-on-sync-skipping"} {
		code, _, stderr := runCLI(t, "-H", "/NULL/", "-Mrsyncdirect", "-W", src, "-D", dst, "-z", pid, opt)
		name, _, _ := strings.Cut(strings.TrimLeft(opt, "-"), "=")
		if code != 22 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "not available") {
			t.Errorf("%s: exit %d %q, want 22 and one line saying it is not available", opt, code, stderr)
		}
		if name != "CCAP_KILL" && !strings.Contains(stderr, name) && !strings.Contains(stderr, "preserve-capabilities") {
			t.Errorf("%s: the error does not name it: %q", opt, stderr)
		}
		if exists(pid) {
			t.Fatalf("%s: started (pid file written)", opt)
		}
	}
}

// Bad privilege options: one line, exit 22 or 2, nothing started.
func TestBadPrivilegeOptions(t *testing.T) {
	dir, src, dst, pid := cliTree(t)
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"--splitting=process", "-CCAP_FOO"}, 22, "CAP_FOO"},
		{[]string{"--splitting=process", "--uid=no-such-user-here"}, 22, "no-such-user-here"},
		{[]string{"--chroot=" + file}, 22, "not a directory"},
		{[]string{"--chroot=" + filepath.Join(dir, "none")}, 2, "none"},
		{[]string{"--splitting=process", "-Mplugin"}, 22, "plugin"},
	} {
		args := append([]string{"-H", "/NULL/", "-Mrsyncdirect", "-W", src, "-D", dst, "-z", pid}, tc.args...)
		code, _, stderr := runCLI(t, args...)
		if code != tc.code || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.says) {
			t.Errorf("%v: exit %d %q, want %d and one line naming %q", tc.args, code, stderr, tc.code, tc.says)
		}
		if exists(pid) {
			t.Fatalf("%v: started (pid file written)", tc.args)
		}
	}
}
