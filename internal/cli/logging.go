package cli

import (
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
)

// newLogger builds the logger for -Y (stderr, stdout, syslog), -d (each -d
// shows more: 1 info, 2 and up debug) and -q (only what stops the run).
// Warnings and errors are always shown otherwise, as clsync does.
func newLogger(s *Settings, stderr io.Writer) (*slog.Logger, func(), error) {
	level := slog.LevelWarn
	switch {
	case s.Quiet:
		level = slog.LevelError + 4
	case s.Debug >= 2:
		level = slog.LevelDebug
	case s.Debug == 1:
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	var out io.Writer
	closeFn := func() {}
	switch s.Output {
	case "stdout":
		out = os.Stdout
	case "syslog":
		w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "clsync")
		if err != nil {
			return nil, nil, fmt.Errorf("open syslog (-Y syslog): %w", err)
		}
		out = w
		closeFn = func() { w.Close() }
	default:
		out = stderr
	}
	return slog.New(slog.NewTextHandler(out, opts)).With("label", s.Label), closeFn, nil
}
