package handlers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/clsync-go/clsync/event"
)

// rsyncArgs are clsync's rsync arguments without the two paths: the value
// of %RSYNC-ARGS%. exact adds --ignore-times for syncs of paths that events
// named: rsync's quick check compares sizes and whole-second mtimes, so a
// file rewritten with the same size within the second of its last sync
// would stay stale in the mirror (clsync 0.4.5 loses such changes). The
// initial sync and full rescans keep the quick check: they cover files that
// did not change.
//
// local adds --numeric-ids when the destination is on this machine: the
// user and group databases are the same on both sides, and rsync then skips
// reading them for every run (half a millisecond of each sync's latency).
func rsyncArgs(preferInclude, exact, local bool) []string {
	args := []string{"-aH"}
	if exact {
		args = append(args, "--ignore-times")
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
	// races tells a partial transfer that a changing source explains from
	// a failure (see raceLog): only where rsync itself runs.
	races bool
}

func newRsyncDirect(cfg Config) (*rsyncDirect, error) {
	dir, owned, err := listsDir(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Template == nil {
		cfg.Template = []string{"%RSYNC-ARGS%", "%watch-dir%/", "%destination-dir%/"}
	}
	// rsync's 24 ("some files vanished") is normal on a live tree: the
	// vanished file's removal is its own event.
	r := &rsyncDirect{cfg: cfg, dir: dir, ownedDir: owned, run: runner(cfg, 24), races: true}
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
	parts, err := buildRsyncLists(r.cfg.WatchDir, filter, r.cfg.IncLimit, items)
	if err != nil {
		return fmt.Errorf("rsync lists: %w", err)
	}
	template := r.cfg.Template
	if initial && r.cfg.InitTemplate != nil {
		template = r.cfg.InitTemplate
	}
	exact := !initial && !(len(items) > 0 && items[0].Path == "" && items[0].Recursive())
	for _, part := range parts {
		if len(part.include) == 0 && !part.root {
			continue
		}
		for _, rel := range r.cfg.Exclude {
			part.exclude = append(part.exclude, pattern("/"+rel, ""))
		}
		if err := r.syncPart(ctx, template, part, exact); err != nil {
			return err
		}
	}
	return nil
}

func (r *rsyncDirect) syncPart(ctx context.Context, template []string, part rsyncPart, exact bool) error {
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
	vars := func(name string) ([]string, bool) {
		switch name {
		case "INCLUDE-LIST-PATH":
			return []string{inc}, true
		case "EXCLUDE-LIST-PATH":
			return []string{exc}, true
		case "RSYNC-ARGS":
			return ExpandTemplate(rsyncArgs(r.cfg.PreferInclude, exact, r.cfg.Destination != "" && !IsRemote(r.cfg.Destination)), func(n string) ([]string, bool) {
				switch n {
				case "INCLUDE-LIST-PATH":
					return []string{inc}, true
				case "EXCLUDE-LIST-PATH":
					return []string{exc}, true
				}
				return nil, false
			}), true
		}
		return optionVars(r.cfg, name)
	}
	argv := append([]string{r.cfg.Program}, ExpandTemplate(template, vars)...)
	r.cfg.Logger.Debug("rsync", "argv", strings.Join(argv, " "), "include_lines", len(part.include), "exclude_lines", len(part.exclude))
	if !r.races {
		return r.run.Run(ctx, argv)
	}
	log := &raceLog{out: os.Stderr}
	err = r.run.RunTo(ctx, argv, log)
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
