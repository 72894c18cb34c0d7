package handlers

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/clsync-go/clsync/event"
	"github.com/clsync-go/clsync/handlers/clsyncplugin"
)

// pluginHandler calls a Go plugin (-Mplugin -S handler.so), the successor
// of clsync's "so" mode: the batch goes to the plugin's Syncer as it is,
// with every item's mask filled in. See package clsyncplugin.
type pluginHandler struct {
	cfg    Config
	path   string
	syncer clsyncplugin.Syncer
	// mu keeps the plugin ABI's promise that Sync is never called
	// concurrently, whatever --threading lets run side by side.
	mu sync.Mutex
}

// newPlugin loads the plugin. A missing file is an error that wraps
// fs.ErrNotExist; a file that is no plugin for this clsync (no NewSyncer,
// another type, built against other package versions or without cgo) is a
// plain error naming the file and what is wrong.
func newPlugin(cfg Config) (Handler, error) {
	if _, err := os.Stat(cfg.Program); err != nil {
		return nil, fmt.Errorf("sync handler plugin: %w", err)
	}
	newSyncer, err := openPlugin(cfg.Program)
	if err != nil {
		return nil, err
	}
	option := cfg.Option
	if option == nil {
		option = func(string) (string, bool) { return "", false }
	}
	syncer, err := newSyncer(clsyncplugin.Config{
		WatchDir: cfg.WatchDir, Destination: cfg.Destination, Label: cfg.Label,
		Option: option, Logger: cfg.Logger.With("plugin", cfg.Program),
	})
	if err != nil {
		return nil, invalidf("sync handler plugin %s: %s: %v", cfg.Program, clsyncplugin.Symbol, err)
	}
	if syncer == nil {
		return nil, invalidf("sync handler plugin %s: %s returned no Syncer", cfg.Program, clsyncplugin.Symbol)
	}
	return &pluginHandler{cfg: cfg, path: cfg.Program, syncer: syncer}, nil
}

func (h *pluginHandler) Sync(ctx context.Context, items []event.Event, initial bool) error {
	filter := h.cfg.Filter
	if initial && h.cfg.FullInitialSync {
		filter = nil
	}
	out := make([]clsyncplugin.Item, 0, len(items))
	for _, it := range items {
		if filter != nil && it.Path != "" && !filter.Sync(it.Path, it.IsDir) {
			continue
		}
		out = append(out, clsyncplugin.Item{Path: it.Path, Op: it.Op, IsDir: it.IsDir, Mask: it.EventMask()})
	}
	if len(out) == 0 {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.syncer.Sync(ctx, out, initial); err != nil {
		return fmt.Errorf("sync handler plugin %s: %w", h.path, err)
	}
	return nil
}

// Close closes the Syncer if it has a Close method.
func (h *pluginHandler) Close() error {
	if c, ok := h.syncer.(io.Closer); ok {
		if err := c.Close(); err != nil {
			return fmt.Errorf("sync handler plugin %s: close: %w", h.path, err)
		}
	}
	return nil
}
