package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/clsync-go/clsync/agent"
)

// newLogger builds the logger for -Y (stderr, stdout, syslog), -d (each -d
// shows more: 1 info, 2 and up debug), -q (only what stops the run) and
// --log-format. Warnings and errors are always shown otherwise, as clsync
// does. On systemd's journal (JOURNAL_STREAM names our stream) lines carry
// no time, which the journal adds, and start with the syslog level as
// "<N>", which it reads.
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
	journal := s.Output != "syslog" && onJournal(out, os.Getenv("JOURNAL_STREAM"))
	if journal {
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}
	}
	var h slog.Handler = slog.NewTextHandler(out, opts)
	if s.LogFormat == "json" {
		h = slog.NewJSONHandler(out, opts)
	}
	if journal {
		h = &journalHandler{mu: &sync.Mutex{}, w: out, inner: h}
	}
	return slog.New(h).With("label", s.Label), closeFn, nil
}

// onJournal tells whether out is the stream JOURNAL_STREAM ("DEV:INO")
// names: systemd sets it for a service whose output goes to the journal.
func onJournal(out io.Writer, stream string) bool {
	f, ok := out.(*os.File)
	if !ok || stream == "" {
		return false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	return stream == fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

// journalHandler writes each record's syslog level as "<N>" before it.
type journalHandler struct {
	mu    *sync.Mutex // one line at a time, prefix included
	w     io.Writer
	inner slog.Handler
}

func (h *journalHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *journalHandler) Handle(ctx context.Context, r slog.Record) error {
	prefix := "<7>" // debug
	switch {
	case r.Level >= slog.LevelError:
		prefix = "<3>"
	case r.Level >= slog.LevelWarn:
		prefix = "<4>"
	case r.Level >= slog.LevelInfo:
		prefix = "<6>"
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, err := io.WriteString(h.w, prefix); err != nil {
		return err
	}
	return h.inner.Handle(ctx, r)
}

func (h *journalHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &journalHandler{mu: h.mu, w: h.w, inner: h.inner.WithAttrs(attrs)}
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	return &journalHandler{mu: h.mu, w: h.w, inner: h.inner.WithGroup(name)}
}

// TerminalProgress is the initial walk's progress as one line that updates
// in place, when the log goes to stderr and stderr is a terminal (nil
// otherwise: the progress is logged, at most once a second, with -d).
func (s *Settings) TerminalProgress(stderr io.Writer) func(agent.WalkProgress) {
	f, ok := stderr.(*os.File)
	if !ok || s.Output != "stderr" || s.Quiet || s.LogFormat == "json" || !isTerminal(int(f.Fd())) {
		return nil
	}
	return progressLine(f)
}

// progressLine writes each progress over the previous one; the walk's end
// finishes the line, if one was written (a walk under a second writes none).
func progressLine(w io.Writer) func(agent.WalkProgress) {
	written := false
	return func(p agent.WalkProgress) {
		if p.Done && !written {
			return
		}
		rate := 0
		if p.Took > 0 {
			rate = int(float64(p.Directories) / p.Took.Seconds())
		}
		end := ""
		if p.Done {
			end = ", done\n"
		}
		fmt.Fprintf(w, "\r\x1b[Kclsync: initial sync: %d directories watched, %d/s, %s%s", p.Directories, rate, p.Took.Round(time.Second), end)
		written = true
	}
}
