package api

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/clsync-go/clsync/agent"
	"github.com/clsync-go/clsync/aggregator"
)

// Status is what the status verb answers, as JSON: a contract with the
// scripts that read it, so fields are only ever added.
type Status struct {
	// State is clsync's status word: starting, initsync, running,
	// synchandler, hold on, thread-gc, ...
	State  string `json:"state"`
	Paused bool   `json:"paused"`
	PID    int    `json:"pid"`
	Label  string `json:"label"`
	// ConfigBlock is the config file block in use (-K).
	ConfigBlock   string  `json:"config_block"`
	WatchDir      string  `json:"watch_dir"`
	Destination   string  `json:"destination"`
	Mode          string  `json:"mode"`
	UptimeSeconds float64 `json:"uptime_seconds"`

	// Queues are the paths waiting in each of clsync's queues (normal,
	// bigfile, instant).
	Queues map[string]int `json:"queues"`
	// RunningSyncs are the handler runs going on, RunningPaths their paths.
	RunningSyncs int `json:"running_syncs"`
	RunningPaths int `json:"running_paths"`
	// PathsPending are the paths not synced yet: waiting or in a run.
	PathsPending int `json:"paths_pending"`
	// OldestPendingSeconds is how long the change that waits longest has
	// been waiting (0: nothing waits).
	OldestPendingSeconds float64 `json:"oldest_pending_seconds"`

	LastSync    *SyncResult `json:"last_sync,omitempty"`
	LastSuccess *time.Time  `json:"last_success,omitempty"`
	Syncs       uint64      `json:"syncs"`
	SyncsFailed uint64      `json:"syncs_failed"`
	// HandlerSecondsAverage is the handler runs' mean duration.
	HandlerSecondsAverage float64 `json:"handler_seconds_average"`
	Iteration             int     `json:"iteration"`

	// Monitor is the kernel interface watching the tree.
	Monitor string `json:"monitor"`
	Watches int    `json:"watches"`
	// WatchLimit is fs.inotify.max_user_watches (-1: unknown, or none
	// applies: fanotify).
	WatchLimit int    `json:"watch_limit"`
	Events     uint64 `json:"events"`
	Overflows  uint64 `json:"overflows"`
	Rescans    uint64 `json:"rescans"`

	Initial InitialSync `json:"initial_sync"`
}

// SyncResult is one handler run.
type SyncResult struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Seconds float64   `json:"seconds"`
	OK      bool      `json:"ok"`
	Error   string    `json:"error,omitempty"`
}

// InitialSync is the progress of the initial walk and sync.
type InitialSync struct {
	// Done: the destination was made equal to the source.
	Done bool `json:"done"`
	// Seconds: how long the walk and the initial sync took, or have taken
	// so far.
	Seconds            float64 `json:"seconds"`
	DirectoriesWatched int     `json:"directories_watched"`
	WalkDone           bool    `json:"walk_done"`
	WalkSeconds        float64 `json:"walk_seconds"`
	// DirectoriesPerSecond is the walk's rate.
	DirectoriesPerSecond float64 `json:"directories_per_second"`
}

// Identity is what the status says the agent is.
type Identity struct {
	PID                                             int
	Label, ConfigBlock, WatchDir, Destination, Mode string
}

// NewStatus is the status of an agent whose figures are st, at now.
func NewStatus(st agent.Stats, id Identity, now time.Time) Status {
	s := Status{
		State: st.State, Paused: st.Paused, PID: id.PID, Label: id.Label, ConfigBlock: id.ConfigBlock,
		WatchDir: id.WatchDir, Destination: id.Destination, Mode: id.Mode,
		Queues: map[string]int{}, RunningSyncs: st.Load.Running, RunningPaths: st.Load.RunningPaths,
		PathsPending: st.Load.Pending(), Syncs: st.Syncs, SyncsFailed: st.SyncFailures,
		Iteration: st.Iteration, Monitor: st.Monitor, Watches: st.Watches, WatchLimit: st.WatchLimit,
		Events: st.Events, Overflows: st.Overflows, Rescans: st.Rescans,
	}
	if !st.Started.IsZero() {
		s.UptimeSeconds = seconds(now.Sub(st.Started))
	}
	for q, n := range st.Load.Queued {
		s.Queues[aggregator.Queue(q).String()] = n
	}
	if !st.Load.Oldest.IsZero() {
		s.OldestPendingSeconds = seconds(now.Sub(st.Load.Oldest))
	}
	if !st.LastSync.End.IsZero() {
		s.LastSync = &SyncResult{Start: st.LastSync.Start, End: st.LastSync.End,
			Seconds: seconds(st.LastSync.End.Sub(st.LastSync.Start)), OK: st.LastSync.Err == "", Error: st.LastSync.Err}
	}
	if !st.LastSuccess.IsZero() {
		t := st.LastSuccess
		s.LastSuccess = &t
	}
	if st.Syncs > 0 {
		s.HandlerSecondsAverage = seconds(st.SyncTime / time.Duration(st.Syncs))
	}
	in := &s.Initial
	in.Done, in.DirectoriesWatched, in.WalkDone = st.InitialDone, st.Walked, st.WalkDone
	switch {
	case st.InitialDone:
		in.Seconds = seconds(st.InitialTook)
	case !st.Started.IsZero():
		in.Seconds = seconds(now.Sub(st.Started))
	}
	walk := st.WalkTook
	if !st.WalkDone && !st.Started.IsZero() {
		walk = now.Sub(st.Started)
	}
	in.WalkSeconds = seconds(walk)
	if walk > 0 {
		in.DirectoriesPerSecond = float64(st.Walked) / walk.Seconds()
	}
	return s
}

// seconds is d in seconds, to the millisecond.
func seconds(d time.Duration) float64 { return d.Round(time.Millisecond).Seconds() }

// WriteText writes s for a human, one fact per line.
func (s Status) WriteText(w io.Writer, now time.Time) error {
	var b strings.Builder
	line := func(name, format string, args ...any) {
		fmt.Fprintf(&b, "%-14s "+format+"\n", append([]any{name + ":"}, args...)...)
	}
	state := s.State
	if s.Paused {
		state += " (paused)"
	}
	line("state", "%s", state)
	line("agent", "pid %d, label %s, mode %s, up %s", s.PID, s.Label, s.Mode, human(s.UptimeSeconds))
	line("mirror", "%s -> %s", s.WatchDir, s.Destination)
	pending := fmt.Sprintf("%d paths (normal %d, bigfile %d, instant %d waiting; %d in %d running syncs)",
		s.PathsPending, s.Queues["normal"], s.Queues["bigfile"], s.Queues["instant"], s.RunningPaths, s.RunningSyncs)
	if s.OldestPendingSeconds > 0 {
		pending += ", oldest waiting " + human(s.OldestPendingSeconds)
	}
	line("pending", "%s", pending)
	if ls := s.LastSync; ls != nil {
		result := "ok"
		if !ls.OK {
			result = "failed: " + ls.Error
		}
		line("last sync", "%s, took %s, ended %s ago", result, human(ls.Seconds), human(now.Sub(ls.End).Seconds()))
	} else {
		line("last sync", "none yet")
	}
	line("syncs", "%d done, %d failed, %s on average", s.Syncs, s.SyncsFailed, human(s.HandlerSecondsAverage))
	if s.WatchLimit >= 0 {
		line("watches", "%d of %d (%s)", s.Watches, s.WatchLimit, s.Monitor)
	} else {
		line("watches", "%d directories (%s)", s.Watches, s.Monitor)
	}
	line("events", "%d read, %d overflows, %d rescans", s.Events, s.Overflows, s.Rescans)
	in := s.Initial
	walk := fmt.Sprintf("%d directories watched in %s, %.0f/s", in.DirectoriesWatched, human(in.WalkSeconds), in.DirectoriesPerSecond)
	switch {
	case in.Done:
		line("initial sync", "done in %s (%s)", human(in.Seconds), walk)
	case in.WalkDone:
		line("initial sync", "syncing for %s (%s)", human(in.Seconds), walk)
	default:
		line("initial sync", "walking the tree: %s", walk)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// human is a duration in seconds, rounded for reading.
func human(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
