package lifecycle

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// The status file holds the word without a newline; once terminating, only
// "exiting" follows; Remove deletes the file.
func TestStatus(t *testing.T) {
	path := filepath.Join(t.TempDir(), "status")
	s := &Status{Path: path, Log: slog.New(slog.DiscardHandler)}
	read := func() string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, c := range []struct{ set, want string }{
		{"initsync", "initsync"}, {"running", "running"}, {"terminating", "terminating"},
		{"running", "terminating"}, {"exiting", "exiting"},
	} {
		s.Set(c.set)
		if got := read(); got != c.want || s.Get() != c.want {
			t.Errorf("after %q: file %q, Get %q, want %q", c.set, got, s.Get(), c.want)
		}
	}
	s.Remove()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("status file left: %v", err)
	}
}
