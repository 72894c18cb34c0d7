package handlers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
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
//
// shape is the run's (planNamed): clsync's include and exclude lists, or a
// --files-from list of directories one level deep, of trees, or of files.
func rsyncArgs(preferInclude, quick, initial, local bool, shape string) []string {
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
	if shape != shapeList {
		switch shape {
		case shapeDirs:
			args = append(args, "-d", "--delete")
		case shapeTrees:
			args = append(args, "-r", "--delete")
		case shapeFiles:
			// A file that replaced a non-empty directory.
			args = append(args, "--force")
		}
		// A name gone since the plan was made: its removal is an event.
		args = append(args, "--from0", "--files-from", "%FILES-FROM-PATH%", "--ignore-missing-args")
		return append(args, "--exclude-from", "%EXCLUDE-LIST-PATH%")
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
	// treeAbove: the watch dir held more entries than this when counted
	// at treeCounted (treeAtMost; batches may run in parallel).
	treeMu      sync.Mutex
	treeAbove   int
	treeCounted time.Time
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
		if r.emptyExclude, err = writeList(dir, "exclist", nil, '\n'); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

func (r *rsyncDirect) Sync(ctx context.Context, items []event.Event, initial bool) error {
	if r.named(initial) {
		return r.syncNamed(ctx, items)
	}
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

// named tells whether a batch goes to rsync as --files-from lists
// (planNamed): rsyncdirect's syncs after the initial one. The initial sync
// is one run of the root either way; rsyncshell's script, a template of the
// user's and --rsync-prefer-include (no exclude list) get clsync's lists.
func (r *rsyncDirect) named(initial bool) bool {
	return r.direct && !initial && !r.cfg.PreferInclude && r.cfg.Template == nil
}

func (r *rsyncDirect) syncNamed(ctx context.Context, items []event.Event) error {
	start := time.Now()
	runs, err := planNamed(r.cfg.WatchDir, r.cfg.Filter, items, r.cfg.IncLimit, r.treeAtMost)
	if err != nil {
		return fmt.Errorf("rsync lists: %w", err)
	}
	if r.cfg.Logger.Enabled(ctx, slog.LevelDebug) {
		var desc []string
		for _, run := range runs {
			desc = append(desc, fmt.Sprintf("%s quick=%t names=%d", run.shape, run.quick, len(run.names)))
		}
		r.cfg.Logger.Debug("rsync plan", "items", len(items), "runs", strings.Join(desc, "; "), "took", time.Since(start))
	}
	for _, run := range runs {
		exclude := run.exclude
		for _, rel := range r.cfg.Exclude {
			exclude = append(exclude, pattern("/"+rel, ""))
		}
		inv := Invocation{Template: "sync", Quick: run.quick, Shape: run.shape}
		if err := r.runRsync(ctx, inv, nil, exclude, run.names); err != nil {
			return err
		}
	}
	return nil
}

// treeAtMost tells whether the watch dir holds at most limit entries. A
// count that found more is believed for a minute: on a large tree every
// batch of a storm would count again, and should the tree shrink meanwhile,
// a batch goes as lists, which is slower, never wrong.
func (r *rsyncDirect) treeAtMost(limit int) bool {
	r.treeMu.Lock()
	large := limit <= r.treeAbove && time.Since(r.treeCounted) < time.Minute
	r.treeMu.Unlock()
	if large {
		return false
	}
	if newTreeSizes(r.cfg.WatchDir).atMost("", limit) {
		return true
	}
	r.treeMu.Lock()
	r.treeAbove, r.treeCounted = limit, time.Now()
	r.treeMu.Unlock()
	return false
}

func (r *rsyncDirect) syncPart(ctx context.Context, template string, part rsyncPart, quick, initial bool) error {
	inv := Invocation{Template: template, Quick: quick, Initial: initial}
	return r.runRsync(ctx, inv, part.include, part.exclude, nil)
}

// runRsync writes inv's lists (the include list, or with names the
// --files-from list; the exclude list) and runs rsync.
func (r *rsyncDirect) runRsync(ctx context.Context, inv Invocation, include, exclude, names []string) error {
	var list string
	var err error
	sep := byte('\n')
	if inv.Shape != shapeList {
		sep = 0 // --from0 applies to the exclude list too
		list, err = writeList(r.dir, "files", names, sep)
		inv.FilesFromPath = list
	} else {
		list, err = writeList(r.dir, "list", include, '\n')
		inv.IncludeListPath = list
	}
	if err != nil {
		return err
	}
	files := []string{list}
	switch {
	case r.cfg.PreferInclude:
	case len(exclude) == 0 && r.emptyExclude != "":
		// Most syncs exclude nothing: they share one empty list instead
		// of writing and removing a file each.
		inv.ExcludeListPath = r.emptyExclude
	default:
		if inv.ExcludeListPath, err = writeList(r.dir, "exclist", exclude, sep); err != nil {
			os.Remove(list)
			return err
		}
		files = append(files, inv.ExcludeListPath)
	}
	if !r.cfg.KeepLists {
		defer func() {
			for _, f := range files {
				os.Remove(f)
			}
		}()
	}
	if r.cfg.Logger.Enabled(ctx, slog.LevelDebug) {
		argv, _ := Argv(r.cfg, inv)
		r.cfg.Logger.Debug("rsync", "argv", strings.Join(argv, " "), "include_lines", len(include), "names", len(names), "exclude_lines", len(exclude))
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

// writeList writes lines, each ended by sep, to a new file named like
// clsync's ".clsync-list.*" in dir.
func writeList(dir, kind string, lines []string, sep byte) (string, error) {
	f, err := os.CreateTemp(dir, ".clsync-"+kind+".*")
	if err != nil {
		return "", fmt.Errorf("create %s file in %s: %w", kind, dir, err)
	}
	w := bufio.NewWriter(f)
	for _, l := range lines {
		w.WriteString(l)
		w.WriteByte(sep)
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
