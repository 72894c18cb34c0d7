package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDifferentialExitCodes runs Debian's clsync 0.4.5 and ours on the same
// bad invocations and compares exit codes. Only invocations where clsync's
// answer is sane are listed; where it is not (exit 14 after chdir(NULL) for
// a bad mode, 255 for a missing config file, 22 for --help) our own tests
// pin the right answer instead.
func TestDifferentialExitCodes(t *testing.T) {
	const clsyncBin = "/usr/bin/clsync"
	if _, err := os.Stat(clsyncBin); err != nil {
		t.Skip("Debian's clsync is not installed (make deps installs it)")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	dst := filepath.Join(dir, "dst")
	for _, d := range []string{src, dst} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	missing := filepath.Join(dir, "missing")
	badRules := filepath.Join(dir, "bad.rules")
	if err := os.WriteFile(badRules, []byte("+q^foo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := [][]string{
		{"--mod=x"},
		{"--mod"},
		{"--frobnicate"},
		{"-j"},
		{"--mode"},
		{"-M"},
		{"-V"},
		{"--version"},
		{"-Mrsyncdirect", "-W" + src},
		{"-W" + src, "-D" + dst},
		{"-Mshell", "-W" + src},
		{"-Mrsyncdirect", "-W" + missing, "-D" + dst},
		{"-Mrsyncdirect", "-W" + src, "-D" + missing},
		{"-Mrsyncdirect", "-W" + src, "-D" + dst, "--skip-initialsync", "--exit-on-no-events"},
		{"-Mrsyncdirect", "-W" + src, "-D" + dst, "--only-initialsync", "--exit-on-no-events"},
		{"-Mrsyncdirect", "-W" + src, "-D" + dst, "--only-initialsync", "--skip-initialsync"},
		{"-Mrsyncdirect", "-W" + src, "-D" + dst, "--full-initialsync", "--skip-initialsync"},
		{"-Mdirect", "-W" + src, "-Scp", "--check-execvp-arguments"},
		{"-Mrsyncdirect", "-W" + src, "-D" + dst, "-w", "abc"},
		{"-Mrsyncdirect", "-W" + src, "-D" + dst, "-t", "1x"},
		{"-Mrsyncdirect", "-W" + src, "-D" + dst, "-x", "abc"},
		{"-Mrsyncdirect", "-W" + src, "-D" + dst, "-p", "bogus"},
		{"-Mrsyncdirect", "-W" + src, "-D" + dst, "-Y", "nowhere"},
		{"-Mrsyncdirect", "-W" + src, "-D" + dst, "--splitting=sideways"},
		{"-Mrsyncdirect", "-W" + src, "-D" + dst, "-R", missing},
		{"-Mrsyncdirect", "-W" + src, "-D" + dst, "-p", "safe", "--max-iterations=3"},
		{"-Mrsyncdirect", "-W" + src, "-D" + dst, "--socket-mod=644"},
		{"-Mrsyncdirect", "-W" + src, "-D" + dst, "--pivot-root=auto"},
		{"-Mrsyncdirect", "-W" + src, "-D" + dst, "--have-recursive-sync"},
		{"-Mrsyncdirect", "-W" + src, "-D" + dst, "--exit-hook=" + missing},
		{"-Msimple", "-W" + src, "-Secho", "--standby-file=/x"},
	}
	for _, args := range cases {
		args := append([]string{"-H", "/NULL/"}, args...)
		t.Run(strings.Join(args[2:], " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, clsyncBin, args...)
			cmd.Dir = dir
			var theirOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &theirOut, &theirOut
			err := cmd.Run()
			theirs := 0
			if ee, ok := err.(*exec.ExitError); ok {
				theirs = ee.ExitCode()
			} else if err != nil {
				t.Fatalf("run clsync: %v", err)
			}
			var stdout, stderr bytes.Buffer
			ours := run(ctx, args, &stdout, &stderr)
			if ours != theirs {
				t.Errorf("exit code: ours %d, clsync %d\nours: %s\nclsync: %s", ours, theirs, stderr.String(), lastLines(theirOut.String(), 3))
			}
			if ours != 0 && strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
				t.Errorf("error is not one line: %q", stderr.String())
			}
		})
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
