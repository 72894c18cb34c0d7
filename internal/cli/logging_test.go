package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
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
