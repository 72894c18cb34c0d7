// Package handlers turns a batch of changed paths into an action: running
// rsync or a user's handler with clsync 0.4.5's argv, environment and list
// files. One file per mode; New is the one table from mode name to handler.
package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/clsync-go/clsync/event"
	"github.com/clsync-go/clsync/privsep"
)

// Handler syncs batches. Sync is not called concurrently.
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

	Ignore  map[int]bool  // -x
	Timeout time.Duration // -k
	Filter  Filter        // -R; nil: everything
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
	Logger   *slog.Logger
}

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
		return nil, fmt.Errorf("unknown sync handler mode %q (one of: simple, direct, shell, rsyncdirect, rsyncshell, plugin)", cfg.Mode)
	}
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
	return &Runner{Dir: cfg.WatchDir, Timeout: cfg.Timeout, Ignore: ignore, Env: cfg.Env, Identity: cfg.Identity}
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
