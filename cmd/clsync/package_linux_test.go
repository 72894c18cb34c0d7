package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// make deb builds a package with dpkg-deb; unpacked into a scratch root,
// its binary runs and its manual page renders.
func TestDebianPackage(t *testing.T) {
	for _, tool := range []string{"make", "dpkg-deb", "man", "gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s", tool)
		}
	}
	dir := t.TempDir()
	cmd := exec.Command("make", "deb", "DEBDIR="+dir, "BIN="+filepath.Join(dir, "clsync"))
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make deb: %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "clsync-go_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("packages built: %v", debs)
	}
	info, err := exec.Command("dpkg-deb", "--field", debs[0], "Package", "Conflicts", "Replaces").Output()
	if err != nil || !strings.Contains(string(info), "Package: clsync-go") || !strings.Contains(string(info), "Conflicts: clsync") {
		t.Errorf("control fields: %v\n%s", err, info)
	}
	root := filepath.Join(dir, "scratch")
	if out, err := exec.Command("dpkg", "-x", debs[0], root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg -x: %v\n%s", err, out)
	}
	out, err := exec.Command(filepath.Join(root, "usr", "bin", "clsync"), "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "clsync-go ") {
		t.Fatalf("installed --version: %v %q", err, out)
	}
	man := exec.Command("man", "-l", filepath.Join(root, "usr", "share", "man", "man1", "clsync.1.gz"))
	man.Env = append(os.Environ(), "MANWIDTH=80", "MANPAGER=cat")
	page, err := man.CombinedOutput()
	if err != nil || !strings.Contains(string(page), "--watch-dir=DIR") || !strings.Contains(string(page), "--landlock") {
		t.Fatalf("man -l: %v\n%s", err, page)
	}
	unit, err := os.ReadFile(filepath.Join(root, "lib", "systemd", "system", "clsync@.service"))
	if err != nil || !strings.Contains(string(unit), "ExecStart=/usr/bin/clsync ") {
		t.Fatalf("installed unit: %v\n%s", err, unit)
	}
}
