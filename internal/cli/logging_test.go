package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clsync-go/clsync/agent"
)

// logLines logs an info and a warning through the logger argv asks for,
// on a file that is stderr, and returns the lines.
func logLines(t *testing.T, journal bool, argv ...string) []string {
	t.Helper()
	s, err := Load(append([]string{"-H", "/NULL/", "-d"}, argv...), "")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	t.Setenv("JOURNAL_STREAM", "")
	if journal {
		var st syscall.Stat_t
		syscall.Fstat(int(f.Fd()), &st)
		t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))
	}
	log, closeLog, err := s.Logger(f)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("started", "dirs", 3)
	log.Warn("slow")
	closeLog()
	data, _ := os.ReadFile(f.Name())
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

func TestLogFormats(t *testing.T) {
	lines := logLines(t, false, "--log-format=json")
	var rec map[string]any
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &rec) != nil || rec["msg"] != "started" || rec["level"] != "INFO" || rec["time"] == nil {
		t.Errorf("json: %q", lines)
	}
	lines = logLines(t, false)
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "time=") || !strings.Contains(lines[1], "level=WARN") {
		t.Errorf("text: %q", lines)
	}
}

func TestLogOnTheJournal(t *testing.T) {
	lines := logLines(t, true)
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "<6>level=INFO") || !strings.HasPrefix(lines[1], "<4>level=WARN") || strings.Contains(lines[0], "time=") {
		t.Errorf("text on the journal: %q", lines)
	}
	lines = logLines(t, true, "--log-format=json")
	var rec map[string]any
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "<4>{") || json.Unmarshal([]byte(strings.TrimPrefix(lines[1], "<4>")), &rec) != nil || rec["time"] != nil {
		t.Errorf("json on the journal: %q", lines)
	}
}

func TestProgressLine(t *testing.T) {
	var b strings.Builder
	line := progressLine(&b)
	line(agent.WalkProgress{Directories: 1000, Took: time.Second})
	line(agent.WalkProgress{Directories: 3000, Took: 2 * time.Second})
	line(agent.WalkProgress{Directories: 3500, Took: 2 * time.Second, Done: true})
	want := "\r\x1b[Kclsync: initial sync: 1000 directories watched, 1000/s, 1s" +
		"\r\x1b[Kclsync: initial sync: 3000 directories watched, 1500/s, 2s" +
		"\r\x1b[Kclsync: initial sync: 3500 directories watched, 1750/s, 2s, done\n"
	if b.String() != want {
		t.Errorf("progress line %q, want %q", b.String(), want)
	}
	b.Reset()
	progressLine(&b)(agent.WalkProgress{Directories: 5, Done: true})
	if b.Len() != 0 {
		t.Errorf("a walk under a second wrote %q", b.String())
	}
}
