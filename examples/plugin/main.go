// Command plugin is an example sync handler plugin for clsync's plugin mode
// (the Go successor of clsync 0.4.5's "so" mode). It mirrors the watched
// tree into the destination with plain file operations: files are copied
// (through a temporary file and a rename, so a reader never sees half a
// file), directories made and chmod-ed, symlinks recreated, and whatever is
// gone from the source removed from the destination.
//
// Build it with the same Go version as clsync, and clsync with cgo:
//
//	go build -buildmode=plugin -o mirror.so ./examples/plugin
//	clsync -M plugin -S "$PWD/mirror.so" -W /src -D /dst
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/clsync-go/clsync/event"
	"github.com/clsync-go/clsync/handlers/clsyncplugin"
)

// NewSyncer is the symbol clsync looks up (clsyncplugin.Symbol).
func NewSyncer(cfg clsyncplugin.Config) (clsyncplugin.Syncer, error) {
	if cfg.Destination == "" {
		return nil, errors.New("the mirror plugin needs --destination-dir")
	}
	if strings.Contains(cfg.Destination, ":") {
		return nil, fmt.Errorf("destination %s: the mirror plugin writes local directories only", cfg.Destination)
	}
	return &mirror{src: cfg.WatchDir, dst: cfg.Destination, log: cfg.Logger}, nil
}

type mirror struct {
	src, dst string
	log      *slog.Logger
}

// Sync makes every item's path in the destination what it is in the
// source now, whatever the events said: by the time a batch is synced the
// source may have changed again, and the current state is what must win.
func (m *mirror) Sync(ctx context.Context, items []clsyncplugin.Item, initial bool) error {
	for _, it := range items {
		if err := m.sync(ctx, it.Path, it.Op&event.Rescan != 0); err != nil {
			return err
		}
	}
	return nil
}

// sync mirrors rel; recursive also mirrors everything below a directory
// and removes from the destination what the source no longer has.
func (m *mirror) sync(ctx context.Context, rel string, recursive bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	src, dst := filepath.Join(m.src, rel), filepath.Join(m.dst, rel)
	fi, err := os.Lstat(src)
	if errors.Is(err, fs.ErrNotExist) {
		if rel == "" {
			return fmt.Errorf("source %s is gone; not emptying the mirror", m.src)
		}
		return removeAll(dst)
	}
	if err != nil {
		return err
	}
	// An object that changed type is replaced, not merged.
	if dfi, err := os.Lstat(dst); err == nil && dfi.Mode().Type() != fi.Mode().Type() {
		if err := removeAll(dst); err != nil {
			return err
		}
	}
	if rel != "" {
		// The parent may be missing if an earlier sync failed half-way.
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
	}
	switch {
	case fi.IsDir():
		return m.syncDir(ctx, rel, fi, recursive)
	case fi.Mode()&fs.ModeSymlink != 0:
		return copySymlink(src, dst)
	case fi.Mode().IsRegular():
		return copyFile(src, dst, fi)
	default:
		m.log.Info("not a file, directory or symlink; skipped", "path", src)
		return nil
	}
}

func (m *mirror) syncDir(ctx context.Context, rel string, fi fs.FileInfo, recursive bool) error {
	dst := filepath.Join(m.dst, rel)
	if err := os.Mkdir(dst, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if err := os.Chmod(dst, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return err
	}
	if !recursive {
		return nil
	}
	entries, err := os.ReadDir(filepath.Join(m.src, rel))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // gone meanwhile: its removal is an event of its own
		}
		return err
	}
	keep := make(map[string]bool, len(entries))
	for _, e := range entries {
		keep[e.Name()] = true
		if err := m.sync(ctx, filepath.Join(rel, e.Name()), true); err != nil {
			return err
		}
	}
	have, err := os.ReadDir(dst)
	if err != nil {
		return err
	}
	for _, e := range have {
		if !keep[e.Name()] {
			if err := removeAll(filepath.Join(dst, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

func removeAll(path string) error {
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

func copySymlink(src, dst string) error {
	target, err := os.Readlink(src)
	if err != nil {
		return err
	}
	if err := os.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.Symlink(target, dst)
}

func copyFile(src, dst string, fi fs.FileInfo) error {
	in, err := os.Open(src)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // gone meanwhile: its removal is an event of its own
		}
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".clsync-mirror-*")
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, in)
	if err == nil {
		err = tmp.Chmod(fi.Mode().Perm())
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chtimes(tmp.Name(), fi.ModTime(), fi.ModTime())
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return nil
}

// main is never run: a plugin is loaded, not executed. It lets
// `go build ./...` build this package like any other command.
func main() {}
