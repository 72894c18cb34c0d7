package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/clsync-go/clsync/event"
	"github.com/clsync-go/clsync/internal/beneath"
)

// walkedMask is clsync's mask for an object found by a walk: IN_CREATE,
// with IN_ISDIR for a directory.
func walkedMask(isDir bool) uint32 {
	if isDir {
		return event.InCreate | event.InIsDir
	}
	return event.InCreate
}

// step is one object a non-rsync mode hands to the handler.
type step struct {
	rel  string
	mask uint32
	// recursive: sync the whole directory in one "initialsync" run
	// (--have-recursive-sync) instead of object by object.
	recursive bool
}

// planner turns a batch into steps for the simple, direct and shell modes.
type planner struct {
	root          string
	filter        Filter
	haveRecursive bool
	// fullInitial (-F) ignores the filter during the initial sync.
	fullInitial bool
}

// plan hands emit the steps for items, in order, as it finds them: a
// rescan of the root on a tree of millions of objects is never held in
// memory. A Rescan of a directory (a new or moved-in directory, a lost
// queue, the initial sync) becomes a step for the directory and one for
// every object below it, found by a walk that never follows symlinks; with
// --have-recursive-sync it becomes a single recursive step. A removed
// directory is one step: it is gone, there is nothing to walk. An error
// from emit ends the plan and is returned as it is.
func (p planner) plan(items []event.Event, initial bool, emit func(step) error) error {
	if initial && p.fullInitial {
		p.filter = nil
	}
	for _, it := range items {
		if it.Op&event.Rescan != 0 && beneath.IsDir(p.root, it.Path) {
			if err := p.walk(it, emit); err != nil {
				return err
			}
			continue
		}
		if p.filter != nil && !p.filter.Sync(it.Path, it.IsDir) {
			continue
		}
		if err := emit(step{rel: it.Path, mask: it.EventMask()}); err != nil {
			return err
		}
	}
	return nil
}

// emitError carries emit's error through beneath.Walk, so that the walk's
// own errors, and only those, are wrapped with the walked path.
type emitError struct{ err error }

func (e emitError) Error() string { return e.err.Error() }

// walk emits the steps for the rescanned directory it and what lies below
// it. The rules decide as in clsync's walk: an object they do not sync is
// skipped, a directory they do not walk is not entered.
func (p planner) walk(it event.Event, emit func(step) error) error {
	send := func(s step) error {
		if err := emit(s); err != nil {
			return emitError{err}
		}
		return nil
	}
	err := beneath.Walk(p.root, it.Path, func(rel string, dir bool) error {
		s := step{rel: rel, mask: walkedMask(dir)}
		if rel == it.Path {
			// The item itself keeps what the kernel said about it.
			s.mask = event.Event{Path: it.Path, Op: it.Op, IsDir: true, Mask: it.Mask}.EventMask()
		}
		if p.filter != nil {
			// A path the rules admit only for walking or monitoring is
			// no sync item, the root included ("+w^$" walks it only:
			// handed to cp, it failed the initial sync). The root is
			// always walked. SkipDir only for directories: for a file it
			// would skip the rest of its parent.
			walk := !dir || rel == "" || p.filter.Walk(rel)
			if !p.filter.Sync(rel, dir) {
				if !walk {
					return beneath.SkipDir
				}
				return nil
			}
			if !walk {
				if err := send(s); err != nil {
					return err
				}
				return beneath.SkipDir
			}
		}
		if dir && p.haveRecursive {
			s.recursive = true
			if err := send(s); err != nil {
				return err
			}
			return beneath.SkipDir
		}
		return send(s)
	})
	var e emitError
	if errors.As(err, &e) {
		return e.err
	}
	if err != nil {
		return fmt.Errorf("walk %s: %w", abs(p.root, it.Path), err)
	}
	return nil
}

// abs is the absolute path of rel, as clsync passes it in simple mode and
// to "initialsync".
func abs(root, rel string) string {
	if rel == "" {
		return root
	}
	return filepath.Join(root, rel)
}

// syncListLine renders a step as a line of clsync's shell list: "sync
// <label> <mask> <path>", or only the path with --synclist-simplify. The
// root is rootName. A line cannot hold a name with a newline: ok is false
// for such a step, for the caller to report (clsync drops them silently).
func syncListLine(s step, label, rootName string, simplify bool) (line string, ok bool) {
	if strings.IndexByte(s.rel, '\n') >= 0 {
		return "", false
	}
	name := s.rel
	if name == "" {
		name = rootName
	}
	if simplify {
		return name, true
	}
	return "sync " + label + " " + strconv.FormatUint(uint64(s.mask), 10) + " " + name, true
}

// argvBudget bounds the bytes that %INCLUDE-LIST% puts into one argv
// (strings, their NULs and pointers): far below Linux's 2 MiB and FreeBSD's
// 256 KiB ARG_MAX, which the environment shares, and below Linux's 128 KiB
// for a single word, which %INCLUDE-LIST% inside a longer word makes.
const argvBudget = 64 << 10

// argvCost is what name costs in argv (see argvBudget).
func argvCost(name string) int { return len(name) + 1 + 8 }

// usesVar tells whether any word of the templates refers to %name%.
func usesVar(name string, templates ...[]string) bool {
	for _, t := range templates {
		for _, w := range t {
			if strings.Contains(w, "%"+name+"%") {
				return true
			}
		}
	}
	return false
}

// checkDestination refuses a template that names %destination-dir% when
// -D is not set: the default direct template would become "/", and cp
// would copy into the root directory (clsync 0.4.5 does exactly that).
func checkDestination(cfg Config, templates ...[]string) error {
	if cfg.Destination == "" && usesVar("destination-dir", templates...) {
		return invalidf("mode %s: the sync handler arguments use %%destination-dir%%, but --destination-dir is not set", cfg.Mode)
	}
	return nil
}

// execBase is what the simple, direct and shell modes share: templates,
// the runner, the lists dir, the planner.
type execBase struct {
	cfg      Config
	run      *Runner
	planner  planner
	template []string
	// initTemplate is for "initialsync" runs (--have-recursive-sync).
	initTemplate []string
	// dir receives list files; "" when no template asks for one.
	dir      string
	ownedDir bool
}

// newExecBase resolves the templates (see Templates). A batch mode (lists)
// gets a lists dir if its template names a list file.
func newExecBase(cfg Config, lists bool) (*execBase, error) {
	b := &execBase{cfg: cfg, run: runner(cfg)}
	b.template, b.initTemplate = Templates(cfg)
	b.planner = planner{root: cfg.WatchDir, filter: cfg.Filter, haveRecursive: cfg.HaveRecursiveSync,
		fullInitial: cfg.FullInitialSync}
	templates := [][]string{b.template}
	if b.planner.haveRecursive {
		templates = append(templates, b.initTemplate)
	}
	if err := checkDestination(cfg, templates...); err != nil {
		return nil, err
	}
	if lists && usesVar("INCLUDE-LIST-PATH", b.template) {
		dir, owned, err := listsDir(cfg)
		if err != nil {
			return nil, err
		}
		b.dir, b.ownedDir = dir, owned
		b.cfg = WithListsDir(cfg, dir)
		b.run = runner(b.cfg)
	}
	return b, nil
}

func (b *execBase) exec(ctx context.Context, template string, inv Invocation) error {
	inv.Template = template
	if b.cfg.Logger.Enabled(ctx, slog.LevelDebug) {
		argv, _ := Argv(b.cfg, inv)
		b.cfg.Logger.Debug("sync handler", "type", inv.Type, "argv", argv)
	}
	return b.run.Run(ctx, inv)
}

// initialSync runs "initialsync" for a directory that must be synced
// recursively (--have-recursive-sync): %INCLUDE-LIST% is its absolute path.
func (b *execBase) initialSync(ctx context.Context, s step) error {
	return b.exec(ctx, "initial", Invocation{Type: "initialsync", IncludeList: []string{abs(b.cfg.WatchDir, s.rel)},
		EventMask: strconv.FormatUint(uint64(s.mask), 10)})
}

func (b *execBase) Close() error {
	if b.ownedDir && !b.cfg.KeepLists {
		if err := os.RemoveAll(b.dir); err != nil {
			return fmt.Errorf("remove lists dir: %w", err)
		}
	}
	return nil
}
