package rules

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func mustParse(t *testing.T, text string) *Set {
	t.Helper()
	s, err := Parse(strings.NewReader(text), "test.rules")
	if err != nil {
		t.Fatalf("Parse(%q): %v", text, err)
	}
	return s
}

// check is one expectation: path (dir or file) and permission -> verdict,
// with line = the deciding rule's line or 0 for the default.
type check struct {
	path    string
	isDir   bool
	perm    Perm
	allowed bool
	line    int
}

func runChecks(t *testing.T, s *Set, checks []check) {
	t.Helper()
	for _, c := range checks {
		v, err := s.Check(c.path, c.isDir, c.perm)
		if err != nil {
			t.Errorf("Check(%q, dir=%v, %v): %v", c.path, c.isDir, c.perm, err)
			continue
		}
		line := 0
		if v.Rule != nil {
			line = v.Rule.Line
		}
		if v.Allowed != c.allowed || line != c.line {
			t.Errorf("Check(%q, dir=%v, %v) = allowed %v by line %d, want allowed %v by line %d",
				c.path, c.isDir, c.perm, v.Allowed, line, c.allowed, c.line)
		}
	}
}

const (
	dir  = true
	file = false
)

// The examples of clsync's manual page (RULES and EXAMPLES sections).
func TestManPageAuthorizedKeys(t *testing.T) {
	// As printed by the manual's printf: no newline after "-*". clsync
	// 0.4.5 dropped that last rule; it must work here.
	s := mustParse(t, "+w^$\n+w^[^/]+$\n+W^[^/]+/.ssh$\n+f^[^/]+/.ssh/authorized_keys$\n-*")
	runChecks(t, s, []check{
		{"", dir, Walk, true, 1},
		{"", dir, Monitor, false, 5},
		{"", dir, Sync, false, 5},
		{"alice", dir, Walk, true, 2},
		{"alice", dir, Monitor, false, 5},
		{"alice/.ssh", dir, Walk, true, 3},
		{"alice/.ssh", dir, Monitor, true, 3},
		{"alice/.ssh", dir, Sync, false, 5},
		{"alice/.ssh/authorized_keys", file, Sync, true, 4},
		{"alice/.ssh/known_hosts", file, Sync, false, 5},
		{"alice/.profile", file, Sync, false, 5},
		{"alice/src", dir, Walk, false, 5},
		{"alice/x/.ssh/authorized_keys", file, Sync, false, 5},
	})
}

func TestManPagePwdbNonRsync(t *testing.T) {
	s := mustParse(t, `# which files to sync:
+f^passwd$
+f^group$
+f^shadow$
+f^ssh/sshd_config$

# walk and monitor next directories:
+W^$
+W^ssh$

# forbid the rest:
-*
`)
	if s.Len() != 7 {
		t.Fatalf("Len = %d, want 7", s.Len())
	}
	runChecks(t, s, []check{
		{"passwd", file, Sync, true, 2},
		{"group", file, Sync, true, 3},
		{"shadow", file, Sync, true, 4},
		{"ssh/sshd_config", file, Sync, true, 5},
		{"ssh/ssh_config", file, Sync, false, 12},
		{"passwd-", file, Sync, false, 12},
		{"xpasswd", file, Sync, false, 12},
		{"", dir, Walk, true, 8},
		{"", dir, Monitor, true, 8},
		{"", dir, Sync, false, 12},
		{"ssh", dir, Walk, true, 9},
		{"ssh", dir, Monitor, true, 9},
		{"ssh", dir, Sync, false, 12},
		{"X11", dir, Walk, false, 12},
		{"X11", dir, Monitor, false, 12},
		{"passwd", dir, Walk, false, 12}, // f rules never apply to directories
	})
}

func TestManPagePwdbRsync(t *testing.T) {
	s := mustParse(t, "+f^passwd$\n+f^group$\n+f^shadow$\n+f^ssh/sshd_config$\n+d^$\n+d^ssh$\n-*\n")
	runChecks(t, s, []check{
		{"passwd", file, Sync, true, 1},
		{"ssh/sshd_config", file, Sync, true, 4},
		{"motd", file, Sync, false, 7},
		{"", dir, Walk, true, 5},
		{"", dir, Monitor, true, 5},
		{"", dir, Sync, true, 5},
		{"ssh", dir, Sync, true, 6},
		{"ssh", dir, Walk, true, 6},
		{"default", dir, Sync, false, 7},
		{"ssh", file, Sync, false, 7}, // a file named ssh is not the directory
	})
}

func TestManPageLxc(t *testing.T) {
	s := mustParse(t, "-d/sess(ion)?s?$\n-f/tmp/\n+*\n")
	runChecks(t, s, []check{
		{"ct1/var/lib/php/sessions", dir, Walk, false, 1},
		{"ct1/var/lib/php/sessions", dir, Monitor, false, 1},
		{"ct1/var/lib/php/sessions", dir, Sync, false, 1},
		{"ct1/session", dir, Sync, false, 1},
		{"ct1/sess", dir, Sync, false, 1},
		{"ct1/sessx", dir, Sync, true, 3},
		{"ct1/sessions", file, Sync, true, 3}, // d rules never apply to files
		// Paths have no leading slash, so "/sess" cannot match at
		// the top level.
		{"sessions", dir, Sync, true, 3},
		{"ct1/tmp/x", file, Sync, false, 2},
		{"ct1/tmp/a/b", file, Sync, false, 2},
		{"ct1/tmp", dir, Sync, true, 3},
		{"ct1/tmp", file, Sync, true, 3}, // "/tmp/" needs the slash after it
		{"tmp/x", file, Sync, true, 3},
		{"", dir, Walk, true, 3},
	})
}

func TestRuleLetters(t *testing.T) {
	// One rule of each kind, all excluding "^x$"; everything else
	// is decided by the default.
	tests := []struct {
		letter string
		// Which (isDir, perm) pairs the rule decides.
		dirPerms Perm
		file     bool
	}{
		{"f", 0, true},
		{"F", 0, true},
		{"d", AllPerms, false},
		{"D", AllPerms, false},
		{"w", Walk, false},
		{"W", Walk | Monitor, false},
		{"m", Monitor, false},
		{"M", Monitor, false},
		{"s", Sync, false},
		{"S", Sync, false},
		{"*", AllPerms, true},
	}
	for _, tt := range tests {
		s := mustParse(t, "-"+tt.letter+"^x$\n")
		for _, p := range []Perm{Walk, Monitor, Sync} {
			runChecks(t, s, []check{
				{"x", dir, p, tt.dirPerms&p == 0, boolInt(tt.dirPerms&p != 0)},
				{"x", file, p, !tt.file, boolInt(tt.file)},
				{"y", dir, p, true, 0},
				{"y", file, p, true, 0},
			})
		}
		// The same rule with '+' allows what it decides.
		s = mustParse(t, "+"+tt.letter+"^x$\n-*\n")
		runChecks(t, s, []check{{"x", dir, Sync, tt.dirPerms&Sync != 0, 1 + boolInt(tt.dirPerms&Sync == 0)}})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestFirstMatchWinsPerPermission(t *testing.T) {
	s := mustParse(t, "-w^x$\n+d^x$\n-d^x$\n-*\n")
	runChecks(t, s, []check{
		{"x", dir, Walk, false, 1},
		{"x", dir, Monitor, true, 2},
		{"x", dir, Sync, true, 2},
		{"y", dir, Sync, false, 4},
	})
	s = mustParse(t, "+f\\.c$\n-f^src/\n")
	runChecks(t, s, []check{
		{"src/main.c", file, Sync, true, 1},
		{"src/main.h", file, Sync, false, 2},
		{"main.h", file, Sync, true, 0},
	})
}

func TestDefaultAndRoot(t *testing.T) {
	s := mustParse(t, "-d^$\n")
	runChecks(t, s, []check{
		{"", dir, Walk, false, 1},
		{"", dir, Sync, false, 1},
		{"a", dir, Walk, true, 0},
		{"a", file, Sync, true, 0},
	})
	// An empty regex matches every path, the root ("") included.
	s = mustParse(t, "+d^$\n-d\n")
	runChecks(t, s, []check{
		{"", dir, Walk, true, 1},
		{"a", dir, Walk, false, 2},
	})
	var empty *Set
	if empty.Len() != 0 || !empty.Walk("a") || !empty.Monitor("") || !empty.Sync("f", false) {
		t.Error("a nil *Set must allow everything")
	}
	v, err := empty.Check("x", true, Walk)
	if err != nil || !v.Allowed || v.Rule != nil {
		t.Errorf("nil Set Check = %+v, %v", v, err)
	}
	if s := mustParse(t, ""); s.Len() != 0 || !s.Sync("a", false) {
		t.Error("an empty rules file must allow everything")
	}
}

func TestLineSyntax(t *testing.T) {
	s := mustParse(t, strings.Join([]string{
		"# comment",
		"",
		"+f^a$\r",       // CRLF: the \r is not part of the regex
		"#-*",           // comment, not a rule
		"-f^b # c$",     // '#' inside a rule is part of the regex
		"-f^c $",        // trailing and inner spaces belong to the regex
		"\r",            // a CRLF blank line
		"-*\\.tmp$\r\r", // several \r
		"+f",            // empty regex: matches everything
	}, "\n"))
	if s.Len() != 5 {
		t.Fatalf("Len = %d, want 5", s.Len())
	}
	if got := s.rules[0].Text; got != "+f^a$" {
		t.Errorf("Text = %q, want %q", got, "+f^a$")
	}
	if got := s.rules[3].Pattern(); got != `\.tmp$` {
		t.Errorf("Pattern = %q", got)
	}
	runChecks(t, s, []check{
		{"a", file, Sync, true, 3},
		{"b # c", file, Sync, false, 5},
		{"b", file, Sync, true, 9},
		{"c ", file, Sync, false, 6},
		{"c", file, Sync, true, 9},
		{"x.tmp", dir, Sync, false, 8},
		{"y", file, Sync, true, 9},
		{"y", dir, Sync, true, 0},
	})
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ text, want string }{
		{"+f^a$\n q\n", `rules file test.rules line 2: unknown rule action ' ' in " q" (want '+', '-' or '#' for a comment)`},
		{" # indented comment\n", `rules file test.rules line 1: unknown rule action ' ' in " # indented comment" (want '+', '-' or '#' for a comment)`},
		{"\n\n+q^foo\n", `rules file test.rules line 3: unknown rule type 'q' in "+q^foo" (want one of f d w W m s *)`},
		{"-\xff^foo\n", `rules file test.rules line 1: unknown rule type '\xff' in "-\xff^foo" (want one of f d w W m s *)`},
		{"\xfe\n", `rules file test.rules line 1: unknown rule action '\xfe' in "\xfe" (want '+', '-' or '#' for a comment)`},
		{"+\n", `rules file test.rules line 1: rule "+" lacks a type letter (one of f d w W m s *)`},
		{"-", `rules file test.rules line 1: rule "-" lacks a type letter (one of f d w W m s *)`},
		{"#\n+f\n\n\n-fa(\n", `rules file test.rules line 5: bad regex "a(": unmatched ( or \(`},
		{"+d[[:foo:]]", `rules file test.rules line 1: bad regex "[[:foo:]]": invalid character class name`},
		{"-**", `rules file test.rules line 1: bad regex "*": invalid preceding regular expression`},
		{"+fa\x00b\n", `rules file test.rules line 1: rule "+fa\x00b" contains a NUL byte`},
	}
	for _, tt := range tests {
		_, err := Parse(strings.NewReader(tt.text), "test.rules")
		if err == nil {
			t.Errorf("Parse(%q): no error", tt.text)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("Parse(%q):\n got %s\nwant %s", tt.text, err, tt.want)
		}
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q): error does not match ErrSyntax", tt.text)
		}
		var pe *ParseError
		if !errors.As(err, &pe) || pe.File != "test.rules" {
			t.Errorf("Parse(%q): not a *ParseError: %#v", tt.text, err)
		}
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, fs.ErrClosed }

func TestLoad(t *testing.T) {
	d := t.TempDir()
	good := filepath.Join(d, "good")
	if err := os.WriteFile(good, []byte("+W^$\n-*\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(good)
	if err != nil || s.Len() != 2 {
		t.Fatalf("Load = %v, %v", s, err)
	}

	_, err = Load(filepath.Join(d, "missing"))
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrSyntax) {
		t.Errorf("missing file: %v", err)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		t.Errorf("missing file: no *fs.PathError in %v", err)
	}

	if os.Geteuid() != 0 { // root reads anything
		secret := filepath.Join(d, "secret")
		if err := os.WriteFile(secret, []byte("-*\n"), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(secret); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("unreadable file: %v", err)
		}
	}

	bad := filepath.Join(d, "bad")
	if err := os.WriteFile(bad, []byte("+x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad)
	if !errors.Is(err, ErrSyntax) || !strings.HasPrefix(err.Error(), "rules file "+bad+" line 1: ") {
		t.Errorf("bad file: %v", err)
	}

	// A directory opens but fails to read: an I/O error, not a syntax one.
	_, err = Load(d)
	if err == nil || errors.Is(err, ErrSyntax) {
		t.Errorf("directory: %v", err)
	}
	if _, err := Parse(failingReader{}, "r"); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("read error not wrapped: %v", err)
	}
}

func TestBytePaths(t *testing.T) {
	s := mustParse(t, strings.Join([]string{
		"-f^a.b$",       // line 1
		"-f^.$",         // line 2: one byte, as clsync's C locale
		"-f^\xc3\xa9$",  // line 3: UTF-8 in the pattern is its bytes
		"-f^\xff$",      // line 4
		"-f^n[^/]*l$",   // line 5
		"-f^x$",         // line 6
		"-f^[\xc3\xa9]", // line 7
	}, "\n"))
	runChecks(t, s, []check{
		{"a\nb", file, Sync, false, 1},
		{"a\xffb", file, Sync, false, 1},
		{"a\xc3\xa9b", file, Sync, true, 0},
		{"\xff", file, Sync, false, 2},
		{"\xc3\xa9", file, Sync, false, 3},
		{"\xfe\xfe", file, Sync, true, 0}, // distinct invalid bytes stay distinct
		{"n\nl", file, Sync, false, 5},
		{"x\n", file, Sync, true, 0}, // "$" does not match before a final newline
		{"\xa9z", file, Sync, false, 7},
	})
}

func TestMatchTimeout(t *testing.T) {
	s, err := Options{MatchTimeout: 20 * time.Millisecond}.Parse(strings.NewReader("-f(a+)+$\n"), "slow.rules")
	if err != nil {
		t.Fatal(err)
	}
	path := strings.Repeat("a", 64) + "!"
	_, err = s.Check(path, false, Sync)
	if !errors.Is(err, ErrMatchTimeout) {
		t.Fatalf("Check = %v, want ErrMatchTimeout", err)
	}
	if !strings.HasPrefix(err.Error(), `rules file slow.rules line 1: regex "(a+)+$" on path "aaaa`) {
		t.Errorf("error text: %v", err)
	}
	if s.Sync(path, false) {
		t.Error("Sync must fail closed on a timeout")
	}
	if _, err := s.Explain(path, false); !errors.Is(err, ErrMatchTimeout) {
		t.Errorf("Explain = %v", err)
	}
	// The same rule still works on ordinary input.
	if !s.Sync("b", false) || s.Sync("aa", false) {
		t.Error("ordinary matches broken")
	}
}

func TestCheckPermArgument(t *testing.T) {
	s := mustParse(t, "-*\n")
	for _, p := range []Perm{0, Walk | Sync, AllPerms, 8} {
		if _, err := s.Check("x", true, p); err == nil {
			t.Errorf("Check with perm %v: no error", p)
		}
	}
}

func TestExplain(t *testing.T) {
	s := mustParse(t, "+W^$\n# c\n-d/tmp$\n-m^a$\n")
	got, err := s.Explain("a/tmp", true)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`walk: excluded by line 3 "-d/tmp$"`,
		`monitor: excluded by line 3 "-d/tmp$"`,
		`sync: excluded by line 3 "-d/tmp$"`,
	}
	assertExplain(t, got, want)

	got, _ = s.Explain("a", true)
	assertExplain(t, got, []string{
		`walk: allowed (no rule matched: default)`,
		`monitor: excluded by line 4 "-m^a$"`,
		`sync: allowed (no rule matched: default)`,
	})
	got, _ = s.Explain("", true)
	assertExplain(t, got, []string{
		`walk: allowed by line 1 "+W^$"`,
		`monitor: allowed by line 1 "+W^$"`,
		`sync: allowed (no rule matched: default)`,
	})
	got, _ = s.Explain("a/tmp", false)
	assertExplain(t, got, []string{`sync: allowed (no rule matched: default)`})

	var empty *Set
	got, _ = empty.Explain("x", false)
	assertExplain(t, got, []string{`sync: allowed (no rule matched: default)`})
}

func assertExplain(t *testing.T, got []Explanation, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d explanations %v, want %d", len(got), got, len(want))
	}
	for i := range got {
		if got[i].String() != want[i] {
			t.Errorf("explanation %d = %s, want %s", i, got[i], want[i])
		}
	}
}

func TestPermString(t *testing.T) {
	for p, want := range map[Perm]string{
		Walk: "walk", Monitor: "monitor", Sync: "sync",
		Walk | Monitor: "walk+monitor", AllPerms: "walk+monitor+sync",
		0: "Perm(0)", 8 | Sync: "sync+Perm(8)",
	} {
		if got := p.String(); got != want {
			t.Errorf("Perm(%d).String() = %q, want %q", p, got, want)
		}
	}
}

func TestRelPath(t *testing.T) {
	tests := []struct{ watch, path, want string }{
		{"/srv", "/srv", ""},
		{"/srv/", "/srv/", ""},
		{"/srv", "/srv/a/b/", "a/b"},
		{"/srv", "/srv//a/./b", "a/b"},
		{"/", "/etc/passwd", "etc/passwd"},
		{"/srv", "a/b", "a/b"},
		{"/srv", ".", ""},
		{"/srv", "./a/", "a"},
		{"/srv", "a/../b", "b"},
		{"/srv", "/srv/a\nb", "a\nb"},
	}
	for _, tt := range tests {
		got, err := RelPath(tt.watch, tt.path)
		if err != nil || got != tt.want {
			t.Errorf("RelPath(%q, %q) = %q, %v; want %q", tt.watch, tt.path, got, err, tt.want)
		}
	}
	for _, bad := range [][2]string{{"/srv", "/srvx"}, {"/srv", "/etc"}, {"/srv", ".."}, {"/srv", "../x"}, {"/srv", "/srv/../x"}} {
		if got, err := RelPath(bad[0], bad[1]); err == nil {
			t.Errorf("RelPath(%q, %q) = %q, want an error", bad[0], bad[1], got)
		}
	}
}

func TestConcurrentCheck(t *testing.T) {
	s := mustParse(t, "+W^$\n-d/tmp$\n+f\\.go$\n-*\n")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if !s.Sync("x.go", false) || s.Walk("a/tmp") || !s.Monitor("") {
					t.Errorf("goroutine %d iteration %d: wrong verdict", g, i)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestSameSync(t *testing.T) {
	parse := func(text string) *Set {
		t.Helper()
		if text == "" {
			return nil
		}
		s, err := Parse(strings.NewReader(text), "t")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"", "", true},
		{"-m^skip$\n+*\n", "+*\n", true},
		{"-m^skip$\n-w^x$\n+f.\n", "+f.\n", true},
		{"+f.\n", "-f\\.tmp$\n+f.\n", false},
		{"-d^a$\n", "-s^a$\n", false},
		{"", "-m^skip$\n", true},
	} {
		if got := parse(c.a).SameSync(parse(c.b)); got != c.same {
			t.Errorf("%q vs %q: SameSync %v, want %v", c.a, c.b, got, c.same)
		}
	}
}
