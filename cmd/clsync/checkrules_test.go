package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckRules(t *testing.T) {
	watch := t.TempDir()
	if err := os.MkdirAll(filepath.Join(watch, "site/.git"), 0o755); err != nil {
		t.Fatal(err)
	}
	rulesFile := filepath.Join("..", "..", "examples", "rules", "webroot")
	code, out, stderr := runCLI(t, "-H", "/NULL/", "-R", rulesFile, "-W", watch, "--check-rules",
		filepath.Join(watch, "site/.git"), "site/index.php", "site/.index.php.swp")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		`site/.git: directory "site/.git"`,
		`  sync: excluded by line 4 "-d(^|/)\\.git$"`,
		`site/index.php: file "site/index.php" (not found: checked as a file)`,
		`  sync: allowed by line 6 "+*"`,
		`  sync: excluded by line 2 "-f\\.sw[po]$"`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, _, stderr = runCLI(t, "-H", "/NULL/", "-R", rulesFile, "-W", watch, "--check-rules", "/elsewhere/x")
	if code != 22 || !strings.Contains(stderr, "outside the watch directory") {
		t.Errorf("path outside the watch dir: exit %d %q", code, stderr)
	}
}

// Every example rules file parses.
func TestExampleRulesParse(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "rules", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example rules: %v", err)
	}
	for _, f := range files {
		code, _, stderr := runCLI(t, "-H", "/NULL/", "-R", f, "--check-rules", "x")
		if code != 0 {
			t.Errorf("%s: exit %d %s", f, code, stderr)
		}
	}
}

func TestBadRulesFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("+*\n+q^foo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "-H", "/NULL/", "-R", bad, "--check-rules", "x")
	if code != 22 || !strings.Contains(stderr, "line 2") {
		t.Errorf("exit %d %q, want 22 naming line 2", code, stderr)
	}
}
