package handlers

import (
	"context"
	"strconv"

	"github.com/clsync-go/clsync/event"
)

// simple runs the handler once per object (-Msimple): "sync <label> <mask>
// <absolute path>" by default. A batch is not passed on as one: every item
// is its own run, and a rescanned directory is one run per object in it
// (clsync's walk does the same for new directories; an item that stands for
// a whole subtree must not lose what is inside).
type simple struct {
	*execBase
}

func newSimple(cfg Config) (Handler, error) {
	b, err := newExecBase(cfg, false)
	if err != nil {
		return nil, err
	}
	return &simple{b}, nil
}

func (h *simple) Sync(ctx context.Context, items []event.Event, initial bool) error {
	return h.planner.plan(items, initial, func(s step) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.recursive {
			return h.initialSync(ctx, s)
		}
		return h.exec(ctx, "sync", Invocation{Type: "sync", IncludeList: []string{abs(h.cfg.WatchDir, s.rel)},
			EventMask: strconv.FormatUint(uint64(s.mask), 10)})
	})
}
