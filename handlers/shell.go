package handlers

import (
	"bufio"
	"context"
	"fmt"
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
	// argv: the template puts the names in argv (%INCLUDE-LIST%).
	argv bool
}

func newShell(cfg Config) (Handler, error) {
	b, err := newExecBase(cfg, true)
	if err != nil {
		return nil, err
	}
	return &batch{execBase: b, simplify: cfg.SynclistSimplify, argv: usesVar("INCLUDE-LIST", b.template)}, nil
}

func (h *batch) Sync(ctx context.Context, items []event.Event, initial bool) error {
	cur := &part{}
	// A part the plan left unrun (an error) leaves no list file.
	defer func() { cur.discard(false) }()
	err := h.planner.plan(items, initial, func(s step) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.recursive {
			// clsync runs initialsync when it meets the directory,
			// before the batch that holds the events around it.
			return h.initialSync(ctx, s)
		}
		if h.argv && cur.steps > 0 && cur.size+argvCost(h.name(s)) > argvBudget {
			// The paths go into argv: keep each run within the
			// kernel's limit.
			if err := h.run(ctx, cur); err != nil {
				return err
			}
			cur = &part{}
		}
		return h.add(cur, s)
	})
	if err != nil {
		return err
	}
	if cur.steps == 0 {
		return nil
	}
	return h.run(ctx, cur)
}

// part is the objects of one handler run, gathered as the plan streams
// them: their names when the template puts them in argv (bounded by
// argvBudget), and their lines written straight to the list file, which
// is the only place that holds a whole tree's list.
type part struct {
	names []string
	size  int
	steps int
	lines int
	list  *os.File
	w     *bufio.Writer
}

func (h *batch) name(s step) string {
	if s.rel == "" {
		return h.rootName
	}
	return s.rel
}

func (h *batch) add(p *part, s step) error {
	p.steps++
	if h.argv {
		name := h.name(s)
		p.names = append(p.names, name)
		p.size += argvCost(name)
	}
	if h.dir == "" {
		return nil
	}
	line, ok := syncListLine(s, h.cfg.Label, h.rootName, h.simplify)
	if !ok {
		h.cfg.Logger.Warn("a name with a newline cannot be written to a list file: left out of the list", "path", s.rel)
		return nil
	}
	if err := h.openList(p); err != nil {
		return err
	}
	p.lines++
	p.w.WriteString(line)
	return p.w.WriteByte('\n')
}

func (h *batch) openList(p *part) error {
	if p.list != nil {
		return nil
	}
	f, err := os.CreateTemp(h.dir, ".clsync-list.*")
	if err != nil {
		return fmt.Errorf("create list file in %s: %w", h.dir, err)
	}
	p.list, p.w = f, bufio.NewWriter(f)
	return nil
}

// run runs the handler for p: with its list file, if the template names
// one, and its names in argv, if the template asks for them. A part whose
// every name was left out of the list file is not run.
func (h *batch) run(ctx context.Context, p *part) error {
	inv := Invocation{Type: "synclist", IncludeList: p.names}
	if h.dir != "" {
		if p.lines == 0 && p.names == nil {
			return nil
		}
		// Every name may have been left out, yet go to argv: the list
		// file is then empty.
		if err := h.openList(p); err != nil {
			return err
		}
		defer p.discard(h.cfg.KeepLists)
		if err := p.w.Flush(); err != nil {
			return fmt.Errorf("write %s: %w", p.list.Name(), err)
		}
		if err := p.list.Close(); err != nil {
			return fmt.Errorf("write %s: %w", p.list.Name(), err)
		}
		inv.IncludeListPath = p.list.Name()
	}
	return h.exec(ctx, "sync", inv)
}

// discard closes p's list file and removes it, unless keep (--keep-list).
func (p *part) discard(keep bool) {
	if p.list == nil {
		return
	}
	p.list.Close()
	if !keep {
		os.Remove(p.list.Name())
	}
	p.list = nil
}
