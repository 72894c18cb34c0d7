// Package handlers turns a batch of changed paths into an action: running
// rsync or a user's handler with clsync 0.4.5's argv, environment and list
// files. One file per mode; New is the one table from mode name to handler.
package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"

	"github.com/clsync-go/clsync/event"
	"github.com/clsync-go/clsync/privsep"
)

// Handler syncs batches. Sync may be called concurrently for batches that
// share no path (--threading).
type Handler interface {
	// Sync syncs items; initial marks the initial sync of the whole tree.
	Sync(ctx context.Context, items []event.Event, initial bool) error
	// Close removes what the handler created (its private lists dir).
	Close() error
}

// Config is everything a handler needs to know, resolved and validated by
// the caller.
type Config struct {
	Mode    string
	Program string // -S, an absolute path
	// Template is the handler argument template ("--"); nil: the mode's default.
	Template []string
	// InitTemplate is the initial-sync template ("---"); nil: Template.
	InitTemplate []string

	WatchDir, Destination, Label string
	// ListsDir (-L) receives list files; "" makes a private temporary dir.
	ListsDir  string
	KeepLists bool // -U
	IncLimit  int  // --rsync-inclimit; 0 = no limit
	// PreferInclude (--rsync-prefer-include) drops the exclude list.
	PreferInclude bool

	Ignore map[int]bool // -x
	Filter Filter       // -R; nil: everything
	// FullInitialSync (-F) ignores Filter during the initial sync.
	FullInitialSync bool
	// Exclude lists paths (relative to the watch dir) that rsync modes
	// never sync: the mount points below the watch dir with -X.
	Exclude []string
	// HaveRecursiveSync (--have-recursive-sync): whole directories go to
	// "initialsync" runs instead of object by object.
	HaveRecursiveSync bool
	// SynclistSimplify (--synclist-simplify): list files hold bare paths.
	SynclistSimplify bool
	// Option resolves %option% in templates to the option's value.
	Option func(name string) (string, bool)
	// Env gives CLSYNC_STATUS and CLSYNC_ITERATION for a handler run.
	Env func() []string
	// Identity is who the handler runs as (--sync-handler-uid/-gid).
	Identity privsep.Identity
	// ExitHook and PreExitHook are --exit-hook and --pre-exit-hook.
	ExitHook, PreExitHook string
	// Process starts the handler's processes; nil: Local.
	Process Process
	Logger  *slog.Logger
}

// ErrInvalid is what errors.Is finds in an error of New that a user's
// configuration caused (an unknown mode, a file that is no plugin for this
// clsync): clsync exits with EINVAL for them.
var ErrInvalid = errors.New("invalid sync handler configuration")

// invalidf is an error that matches ErrInvalid.
func invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

// New makes the handler for cfg.Mode.
func New(cfg Config) (Handler, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch cfg.Mode {
	case "simple":
		return newSimple(cfg)
	case "direct":
		return newDirect(cfg)
	case "shell":
		return newShell(cfg)
	case "rsyncdirect":
		return newRsyncDirect(cfg)
	case "rsyncshell":
		return newRsyncShell(cfg)
	case "plugin":
		return newPlugin(cfg)
	default:
		return nil, invalidf("unknown sync handler mode %q (one of: simple, direct, shell, rsyncdirect, rsyncshell, plugin)", cfg.Mode)
	}
}

// WithListsDir is cfg with dir, where its lists are written, readable by
// a sandboxed handler.
func WithListsDir(cfg Config, dir string) Config {
	if cfg.Identity.Sandbox.Landlock {
		cfg.Identity.Sandbox.ReadDirs = append(slices.Clip(cfg.Identity.Sandbox.ReadDirs), dir)
	}
	return cfg
}

// listsDir returns the dir for list files and whether we created it (and so
// must remove it). A private dir under TMPDIR keeps other users from reading
// or replacing the lists.
func listsDir(cfg Config) (dir string, owned bool, err error) {
	if cfg.ListsDir != "" {
		return cfg.ListsDir, false, nil
	}
	dir, err = os.MkdirTemp("", "clsync-")
	if err != nil {
		return "", false, fmt.Errorf("create lists dir: %w", err)
	}
	return dir, true, nil
}

// runner builds the process runner shared by the exec-based modes.
func runner(cfg Config, alsoIgnore ...int) *Runner {
	ignore := map[int]bool{}
	for c, ok := range cfg.Ignore {
		ignore[c] = ok
	}
	for _, c := range alsoIgnore {
		ignore[c] = true
	}
	return &Runner{Process: ProcessFor(cfg), Program: cfg.Program, Ignore: ignore, Env: cfg.Env}
}

// ProcessFor is cfg's Process, or Local.
func ProcessFor(cfg Config) Process {
	if cfg.Process != nil {
		return cfg.Process
	}
	return NewLocal(cfg)
}

// optionVars resolves the template variables every mode knows.
func optionVars(cfg Config, name string) ([]string, bool) {
	switch name {
	case "watch-dir":
		return []string{cfg.WatchDir}, true
	case "destination-dir":
		return []string{cfg.Destination}, true
	case "label":
		return []string{cfg.Label}, true
	}
	if cfg.Option != nil {
		if v, ok := cfg.Option(name); ok {
			return []string{v}, true
		}
	}
	return nil, false
}
