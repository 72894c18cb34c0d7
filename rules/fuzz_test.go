package rules

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzParse: parsing never panics; a parse failure is always a syntax
// error; an accepted file re-rendered from Rule.Text parses to the same
// rules; checking any path never panics and both sets agree.
func FuzzParse(f *testing.F) {
	seeds := []struct {
		rules, path string
		isDir       bool
	}{
		{"+w^$\n+w^[^/]+$\n+W^[^/]+/.ssh$\n+f^[^/]+/.ssh/authorized_keys$\n-*", "alice/.ssh/authorized_keys", false},
		{"# pwdb\n+f^passwd$\n+f^ssh/sshd_config$\n\n+W^$\n+W^ssh$\n-*\n", "ssh", true},
		{"-d/sess(ion)?s?$\n-f/tmp/\n+*\n", "ct/tmp/x", false},
		{"+f^a$\r\n-s[[:alpha:]]\\<x\\>\n", "a", false},
		{"-d[]a-]\n+m(a|)\\1{2,}\n", "a\nb", true},
		{"-*[[.-.]-[=z=]]\n+F\xff.\n", "\xff\xfe", false},
		{"+q\n", "", true},
	}
	for _, s := range seeds {
		f.Add(s.rules, s.path, s.isDir)
	}
	// Catastrophic patterns are covered by TestMatchTimeout; a short
	// limit keeps the fuzzer from spending its time inside them.
	opts := Options{MatchTimeout: 10 * time.Millisecond}
	f.Fuzz(func(t *testing.T, rules, path string, isDir bool) {
		s, err := opts.Parse(strings.NewReader(rules), "fuzz")
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("non-syntax error from an in-memory reader: %v", err)
			}
			return
		}
		texts := make([]string, s.Len())
		for i, r := range s.rules {
			texts[i] = r.Text
		}
		again, err := opts.Parse(strings.NewReader(strings.Join(texts, "\n")), "fuzz-again")
		if err != nil {
			t.Fatalf("re-rendered rules rejected: %v\n%q", err, texts)
		}
		if again.Len() != s.Len() {
			t.Fatalf("re-parse gave %d rules, want %d", again.Len(), s.Len())
		}
		for i := range s.rules {
			a, b := s.rules[i], again.rules[i]
			if a.Text != b.Text || a.Include != b.Include || a.Kind != b.Kind || a.Perms != b.Perms {
				t.Fatalf("rule %d differs after re-parse: %+v vs %+v", i, a, b)
			}
		}
		for _, p := range []Perm{Walk, Monitor, Sync} {
			v1, err1 := s.Check(path, isDir, p)
			v2, err2 := again.Check(path, isDir, p)
			// A timeout may hit one set and not the other.
			if err1 != nil || err2 != nil {
				continue
			}
			if v1.Allowed != v2.Allowed || (v1.Rule == nil) != (v2.Rule == nil) ||
				(v1.Rule != nil && v1.Rule.Text != v2.Rule.Text) {
				t.Fatalf("verdicts differ for %q %v: %+v vs %+v", path, p, v1, v2)
			}
		}
		if ex, err := s.Explain(path, isDir); err == nil {
			for _, e := range ex {
				_ = e.String()
			}
		}
	})
}
