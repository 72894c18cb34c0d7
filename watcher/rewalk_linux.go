//go:build linux

package watcher

import "time"

const (
	// rewalkMinBackoff is the pause before a re-walk that follows another
	// one closely; it doubles up to rewalkMaxBackoff while overflows keep
	// coming, so that a storm costs a few walks instead of one per overflow.
	rewalkMinBackoff = 100 * time.Millisecond
	rewalkMaxBackoff = 4 * time.Second
	// rewalkCalm: an overflow that long after the last re-walk is a new
	// storm and is repaired at once.
	rewalkCalm = 10 * time.Second
)

// rewalkSchedule debounces the re-walks that repair the watches after
// IN_Q_OVERFLOW: at most one runs at a time, overflows during it ask for one
// more after it, and consecutive re-walks back off exponentially. It is pure
// (explicit times) so that it can be tested without a kernel.
type rewalkSchedule struct {
	backoff   time.Duration
	lastEnd   time.Time
	due       time.Time
	scheduled bool // a re-walk starts at due
	running   bool
	again     bool // an overflow came while running: schedule one more after it
}

// overflow records an overflow seen at now.
func (s *rewalkSchedule) overflow(now time.Time) {
	switch {
	case s.running:
		s.again = true
	case !s.scheduled:
		s.schedule(now)
	}
}

func (s *rewalkSchedule) schedule(now time.Time) {
	switch {
	case s.lastEnd.IsZero() || now.Sub(s.lastEnd) >= rewalkCalm:
		s.backoff = 0
	case s.backoff == 0:
		s.backoff = rewalkMinBackoff
	default:
		s.backoff = min(2*s.backoff, rewalkMaxBackoff)
	}
	s.due = now
	if d := s.lastEnd.Add(s.backoff); d.After(now) {
		s.due = d
	}
	s.scheduled = true
}

// next returns when the scheduled re-walk is due.
func (s *rewalkSchedule) next() (time.Time, bool) { return s.due, s.scheduled }

// start reports whether a re-walk is to start at now, and marks it running.
func (s *rewalkSchedule) start(now time.Time) bool {
	if !s.scheduled || now.Before(s.due) {
		return false
	}
	s.scheduled, s.running = false, true
	return true
}

// finish records the end of the running re-walk at now.
func (s *rewalkSchedule) finish(now time.Time) {
	s.running = false
	s.lastEnd = now
	if s.again {
		s.again = false
		s.schedule(now)
	}
}
