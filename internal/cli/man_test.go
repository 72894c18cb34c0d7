package cli

import (
	"strings"
	"testing"
)

func TestManPageListsEveryOption(t *testing.T) {
	var b strings.Builder
	WriteMan(&b, "9.9", "2026-12-02")
	page := b.String()
	if !strings.HasPrefix(page, `.TH CLSYNC 1 "2026-12-02" "clsync-go 9.9"`) {
		t.Errorf("title line: %q", page[:60])
	}
	for _, o := range optionTable {
		if !o.configOnly && !strings.Contains(page, `\fB\-\-`+roff(o.name)+`\fR`) {
			t.Errorf("--%s is not in the manual page", o.name)
		}
	}
}

func TestRoff(t *testing.T) {
	for in, want := range map[string]string{`a-b`: `a\-b`, `.dot`: `\&.dot`, `'q`: `\&'q`, `back\slash`: `back\eslash`} {
		if got := roff(in); got != want {
			t.Errorf("roff(%q) = %q, want %q", in, got, want)
		}
	}
}
