package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/clsync-go/clsync/agent"
	"github.com/clsync-go/clsync/privsep/split"
)

// Relay is a split helper's view of its worker's figures: the worker has
// no network, so it pushes them (Push) and the helper serves them.
type Relay struct {
	// Observe records each sync the worker reports (Start's observe).
	Observe func(time.Duration, error)

	mu    sync.Mutex
	stats agent.Stats
}

// Stats is the last figures pushed.
func (r *Relay) Stats() agent.Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Receive takes one push of the worker (split.HelperConfig.Stats).
func (r *Relay) Receive(raw json.RawMessage, syncs []split.SyncResult) {
	var st agent.Stats
	if json.Unmarshal(raw, &st) == nil {
		r.mu.Lock()
		r.stats = st
		r.mu.Unlock()
	}
	if r.Observe == nil {
		return
	}
	for _, s := range syncs {
		var err error
		if !s.OK {
			err = errFailed
		}
		r.Observe(time.Duration(s.Seconds*float64(time.Second)), err)
	}
}

// errFailed stands for a failed sync the worker reported.
var errFailed = errors.New("sync failed")

// Push is a split worker's side: every second until ctx ends it pushes
// stats and the syncs that ended since; the returned function records a
// sync (agent.Config.ObserveSync).
func Push(ctx context.Context, stats func() agent.Stats, push func(json.RawMessage, []split.SyncResult) error) func(time.Duration, error) {
	var mu sync.Mutex
	var syncs []split.SyncResult
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			raw, err := json.Marshal(stats())
			if err != nil {
				continue
			}
			mu.Lock()
			batch := syncs
			syncs = nil
			mu.Unlock()
			push(raw, batch)
		}
	}()
	return func(took time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		// A helper that stopped reading must not make this grow forever.
		if len(syncs) < 10000 {
			syncs = append(syncs, split.SyncResult{Seconds: took.Seconds(), OK: err == nil})
		}
	}
}
