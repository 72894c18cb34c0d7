package handlers

import (
	"bytes"
	"strings"
	"testing"
)

// Lines as rsync 3.x prints them; onlyRaces holds only for exit 23 runs
// whose errors a changing source explains.
func TestRaceLog(t *testing.T) {
	const (
		eloop    = `rsync: [sender] send_files failed to open "/src/r86/d1/f000257": Too many levels of symbolic links (40)`
		enotdir  = `rsync: [sender] link_stat "/src/a/b/c" failed: Not a directory (20)`
		vanished = `file has vanished: "/src/n348"`
		dirgone  = `directory has vanished: "/src/r86/dn1253"`
		nonempty = `cannot delete non-empty directory: d0/d5/d41`
		summary  = `rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394) [sender=3.5.0]`
		eacces   = `rsync: [sender] send_files failed to open "/src/secret": Permission denied (13)`
		receiver = `rsync: [receiver] mkstemp "/dst/.f.XXXX" failed: No such file or directory (2)`
		ioerror  = `IO error encountered -- skipping file deletion`
	)
	for _, c := range []struct {
		name  string
		lines []string
		want  bool
	}{
		{"a file replaced by a symlink", []string{vanished, eloop, nonempty, summary}, true},
		{"a directory replaced by a file", []string{enotdir, dirgone, summary}, true},
		{"no error named", []string{summary}, false},
		{"permission denied", []string{eloop, eacces, summary}, false},
		{"a receiver error", []string{eloop, receiver, summary}, false},
		{"deletions skipped", []string{enotdir, ioerror, summary}, false},
		{"an unknown line", []string{eloop, "something else went wrong", summary}, false},
	} {
		var out bytes.Buffer
		l := &raceLog{out: &out}
		text := strings.Join(c.lines, "\n") + "\n"
		// Written in odd pieces, as a pipe delivers it.
		for i := 0; i < len(text); i += 7 {
			l.Write([]byte(text[i:min(i+7, len(text))]))
		}
		if got := l.onlyRaces(); got != c.want {
			t.Errorf("%s: onlyRaces %v, want %v", c.name, got, c.want)
		}
		if out.String() != text {
			t.Errorf("%s: stderr not passed on as it was", c.name)
		}
	}
	l := &raceLog{out: &bytes.Buffer{}}
	l.Write([]byte(eloop + "\n" + strings.Repeat("x", maxRsyncLine+1)))
	if l.onlyRaces() {
		t.Error("a line too long to read was taken for a race")
	}
}

// Whatever rsync prints, raceLog passes it on unchanged, never panics, and
// takes a run for a race only if rsync's sender named one.
func FuzzRaceLog(f *testing.F) {
	f.Add("rsync: [sender] send_files failed to open \"/s/x\": Too many levels of symbolic links (40)\nfile has vanished: \"/s/y\"\n", 7)
	f.Add("rsync: [receiver] mkstemp \"/d/.x\" failed: No such file or directory (2)\n", 3)
	f.Add("IO error encountered -- skipping file deletion\r\n\n", 1)
	f.Fuzz(func(t *testing.T, text string, chunk int) {
		chunk = max(1, chunk%64+1)
		var out bytes.Buffer
		l := &raceLog{out: &out}
		for i := 0; i < len(text); i += chunk {
			l.Write([]byte(text[i:min(i+chunk, len(text))]))
		}
		races := l.onlyRaces()
		if out.String() != text {
			t.Fatalf("stderr changed on its way: %q", out.String())
		}
		if races && !strings.Contains(text, "rsync: [sender] ") {
			t.Fatalf("a race without a sender error: %q", text)
		}
	})
}
