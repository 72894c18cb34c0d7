package handlers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/clsync-go/clsync/event"
)

// rsyncArgs are clsync's rsync arguments without the two paths: the value
// of %RSYNC-ARGS%. Runs of paths that events named pass --ignore-times:
// rsync's quick check compares sizes and whole-second mtimes, so a file
// rewritten with the same size within the second of its last sync would
// stay stale in the mirror (clsync 0.4.5 loses such changes). quick runs
// (the initial sync, rescanned directories, dense areas synced whole) keep
// the quick check: they cover files that did not change, which must not be
// copied again.
//
// local adds --numeric-ids when the destination is on this machine: the
// user and group databases are the same on both sides, and rsync then skips
// reading them for every run (half a millisecond of each sync's latency).
// A local quick run during the mirror also compares mtimes to the
// nanosecond (--modify-window=-1): the source's rescanned files are the
// ones most likely to have changed within their second. (The initial sync
// keeps clsync's whole seconds: a destination file system without
// nanoseconds would be copied over whole at every start.)
func rsyncArgs(preferInclude, quick, initial, local bool) []string {
	args := []string{"-aH"}
	switch {
	case !quick:
		args = append(args, "--ignore-times")
	case local && !initial:
		args = append(args, "--modify-window=-1")
	}
	if local {
		args = append(args, "--numeric-ids")
	}
	args = append(args, "--delete")
	if !preferInclude {
		args = append(args, "--exclude-from", "%EXCLUDE-LIST-PATH%")
	}
	return append(args, "--include-from", "%INCLUDE-LIST-PATH%", "--exclude=*")
}

// rsyncDirect runs rsync itself (-Mrsyncdirect): one rsync per batch (or
// per --rsync-inclimit part), restricted by include and exclude lists to
// the changed paths.
type rsyncDirect struct {
	cfg      Config
	dir      string
	ownedDir bool
	run      *Runner
	// emptyExclude is an empty exclude list kept for the handler's life
	// ("" with -U, where every sync keeps lists of its own to inspect).
	emptyExclude string
	// direct: the handler is rsync itself (rsyncdirect, not a user's
	// rsyncshell script): its exit 23 is read with raceLog, and nobody else
	// reads its lists, so they are cut to runLines.
	direct bool
}

func newRsyncDirect(cfg Config) (*rsyncDirect, error) {
	dir, owned, err := listsDir(cfg)
	if err != nil {
		return nil, err
	}
	cfg = WithListsDir(cfg, dir)
	// rsync's 24 ("some files vanished") is normal on a live tree: the
	// vanished file's removal is its own event.
	r := &rsyncDirect{cfg: cfg, dir: dir, ownedDir: owned, run: runner(cfg, 24), direct: true}
	if !cfg.KeepLists && !cfg.PreferInclude {
		if r.emptyExclude, err = writeList(dir, "exclist", nil); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

func (r *rsyncDirect) Sync(ctx context.Context, items []event.Event, initial bool) error {
	filter := r.cfg.Filter
	if initial && r.cfg.FullInitialSync {
		filter = nil
	}
	template := "sync"
	if initial {
		template = "initial"
	}
	limit := r.cfg.IncLimit
	if r.direct && !initial && (limit == 0 || limit > runLines) {
		limit = runLines
	}
	start := time.Now()
	runs := planRsync(r.cfg.WatchDir, items, initial)
	if r.cfg.Logger.Enabled(ctx, slog.LevelDebug) {
		var desc []string
		for _, run := range runs {
			desc = append(desc, fmt.Sprintf("quick=%t items=%d", run.quick, len(run.items)))
		}
		r.cfg.Logger.Debug("rsync plan", "items", len(items), "runs", strings.Join(desc, "; "), "took", time.Since(start))
	}
	for _, run := range runs {
		parts, err := buildRsyncLists(r.cfg.WatchDir, filter, limit, run.items)
		if err != nil {
			return fmt.Errorf("rsync lists: %w", err)
		}
		for _, part := range parts {
			if len(part.include) == 0 && !part.root {
				continue
			}
			for _, rel := range r.cfg.Exclude {
				part.exclude = append(part.exclude, pattern("/"+rel, ""))
			}
			if err := r.syncPart(ctx, template, part, run.quick, initial); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *rsyncDirect) syncPart(ctx context.Context, template string, part rsyncPart, quick, initial bool) error {
	inc, err := writeList(r.dir, "list", part.include)
	if err != nil {
		return err
	}
	files := []string{inc}
	exc := ""
	switch {
	case r.cfg.PreferInclude:
	case len(part.exclude) == 0 && r.emptyExclude != "":
		// Most syncs exclude nothing: they share one empty list instead
		// of writing and removing a file each.
		exc = r.emptyExclude
	default:
		if exc, err = writeList(r.dir, "exclist", part.exclude); err != nil {
			os.Remove(inc)
			return err
		}
		files = append(files, exc)
	}
	if !r.cfg.KeepLists {
		defer func() {
			for _, f := range files {
				os.Remove(f)
			}
		}()
	}
	inv := Invocation{Template: template, IncludeListPath: inc, ExcludeListPath: exc, Quick: quick, Initial: initial}
	if r.cfg.Logger.Enabled(ctx, slog.LevelDebug) {
		argv, _ := Argv(r.cfg, inv)
		r.cfg.Logger.Debug("rsync", "argv", strings.Join(argv, " "), "include_lines", len(part.include), "exclude_lines", len(part.exclude))
	}
	if !r.direct {
		return r.run.Run(ctx, inv)
	}
	log := &raceLog{out: os.Stderr}
	err = r.run.RunTo(ctx, inv, log)
	var exit *ExitError
	if errors.As(err, &exit) && exit.Code == 23 && log.onlyRaces() {
		r.cfg.Logger.Info("rsync met files changing under it (exit 23); their own events are queued", "races", log.races)
		return nil
	}
	return err
}

// writeList writes one pattern per line to a new file named like clsync's
// ".clsync-list.*" in dir.
func writeList(dir, kind string, lines []string) (string, error) {
	f, err := os.CreateTemp(dir, ".clsync-"+kind+".*")
	if err != nil {
		return "", fmt.Errorf("create %s file in %s: %w", kind, dir, err)
	}
	w := bufio.NewWriter(f)
	for _, l := range lines {
		w.WriteString(l)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", fmt.Errorf("write %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("write %s: %w", f.Name(), err)
	}
	return f.Name(), nil
}

func (r *rsyncDirect) Close() error {
	if r.ownedDir && !r.cfg.KeepLists {
		return os.RemoveAll(r.dir)
	}
	if r.emptyExclude != "" {
		return os.Remove(r.emptyExclude)
	}
	return nil
}

// IsRemote tells an rsync destination on another host ("host:path",
// "user@host:path", "rsync://...") from a local directory.
func IsRemote(dest string) bool {
	if strings.Contains(dest, "://") {
		return true
	}
	colon := strings.IndexByte(dest, ':')
	slash := strings.IndexByte(dest, '/')
	return colon > 0 && (slash < 0 || colon < slash)
}
