// Command recorder is a test plugin: it appends what clsync gives it, as
// JSON lines, to the file named by the option "record".
package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"sync/atomic"

	"github.com/clsync-go/clsync/handlers/clsyncplugin"
)

type record struct {
	Call        string              `json:"call"`
	WatchDir    string              `json:"watch_dir,omitempty"`
	Destination string              `json:"destination,omitempty"`
	Label       string              `json:"label,omitempty"`
	Items       []clsyncplugin.Item `json:"items,omitempty"`
	Initial     bool                `json:"initial,omitempty"`
}

type recorder struct {
	path string
	// inSync counts the Sync calls under way: the ABI promises one at a
	// time.
	inSync atomic.Int32
}

func NewSyncer(cfg clsyncplugin.Config) (clsyncplugin.Syncer, error) {
	if _, fail := cfg.Option("fail"); fail {
		return nil, errors.New("refusing as asked")
	}
	path, ok := cfg.Option("record")
	if !ok {
		return nil, errors.New("no record option")
	}
	r := &recorder{path: path}
	cfg.Logger.Info("recorder loaded")
	return r, r.write(record{Call: "new", WatchDir: cfg.WatchDir, Destination: cfg.Destination, Label: cfg.Label})
}

func (r *recorder) Sync(ctx context.Context, items []clsyncplugin.Item, initial bool) error {
	defer r.inSync.Add(-1)
	if r.inSync.Add(1) > 1 {
		return errors.New("Sync called while another Sync runs")
	}
	if _, ok := ctx.Deadline(); !ok {
		return errors.New("no deadline: the context did not reach the plugin")
	}
	return r.write(record{Call: "sync", Items: items, Initial: initial})
}

func (r *recorder) Close() error { return r.write(record{Call: "close"}) }

func (r *recorder) write(rec record) error {
	f, err := os.OpenFile(r.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if err := json.NewEncoder(f).Encode(rec); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func main() {}
