package handlers

import (
	"context"
	"os"

	"github.com/clsync-go/clsync/event"
)

// batch runs the handler once per batch with the objects to sync in a list
// file (-Mshell: "synclist <label> <list file>") or as arguments (-Mdirect:
// "<relative paths...> <destination>/"). The two modes are one mechanism
// with different defaults, as in clsync: every template may use both
// %INCLUDE-LIST% and %INCLUDE-LIST-PATH%.
//
// List lines are "sync <label> <mask> <relative path>" (the root is an
// empty path), or the bare path with --synclist-simplify. With
// --have-recursive-sync, directories that must be synced whole (the initial
// sync, new and rescanned directories) get an "initialsync <label>
// <absolute path>" run each, before the batch's list, instead of a line per
// object below them.
type batch struct {
	*execBase
	// rootName stands for the root in lists and arguments: "." in direct
	// mode (an empty argument would mean nothing to cp), "" in shell mode.
	rootName string
	simplify bool
}

func newShell(cfg Config) (Handler, error) {
	b, err := newExecBase(cfg, true)
	if err != nil {
		return nil, err
	}
	return &batch{execBase: b, simplify: cfg.SynclistSimplify}, nil
}

func (h *batch) Sync(ctx context.Context, items []event.Event, initial bool) error {
	steps, err := h.planner.plan(items, initial)
	if err != nil {
		return err
	}
	// clsync runs initialsync when it meets the directory, before the
	// batch that holds the events around it.
	var flat []step
	for _, s := range steps {
		if !s.recursive {
			flat = append(flat, s)
			continue
		}
		if err := h.initialSync(ctx, s); err != nil {
			return err
		}
	}
	if len(flat) == 0 {
		return nil
	}
	if !usesVar("INCLUDE-LIST", h.template) {
		return h.syncPart(ctx, flat, nil)
	}
	// The paths go into argv: keep each run within the kernel's limit.
	names := make([]string, len(flat))
	for i, s := range flat {
		names[i] = s.rel
		if s.rel == "" {
			names[i] = h.rootName
		}
	}
	at := 0
	for _, part := range splitArgv(names) {
		if err := h.syncPart(ctx, flat[at:at+len(part)], part); err != nil {
			return err
		}
		at += len(part)
	}
	return nil
}

func (h *batch) syncPart(ctx context.Context, steps []step, names []string) error {
	inv := Invocation{Type: "synclist", IncludeList: names}
	if h.dir != "" {
		lines, unlistable := syncListLines(steps, h.cfg.Label, h.rootName, h.simplify)
		for _, s := range unlistable {
			h.cfg.Logger.Warn("a name with a newline cannot be written to a list file: left out of the list", "path", s.rel)
		}
		if len(lines) == 0 && names == nil {
			return nil
		}
		list, err := writeList(h.dir, "list", lines)
		if err != nil {
			return err
		}
		if !h.cfg.KeepLists {
			defer os.Remove(list)
		}
		inv.IncludeListPath = list
	}
	return h.exec(ctx, "sync", inv)
}
