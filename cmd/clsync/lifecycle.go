package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// statusFile keeps clsync's status word (--status-file) and the handler's
// CLSYNC_STATUS in step: "starting", "initsync", "running", "synchandler
// error", "hold on", "preexit", "terminating", "exiting", written without a
// newline and replaced atomically, so a reader never sees a half-written or
// empty file.
type statusFile struct {
	path string
	log  *slog.Logger

	mu   sync.Mutex
	word string
}

func (f *statusFile) set(word string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if word == f.word {
		return
	}
	f.word = word
	if f.path == "" {
		return
	}
	if err := writeFileAtomic(f.path, []byte(word)); err != nil {
		f.log.Error("write status file", "err", err)
	}
}

func (f *statusFile) get() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.word
}

// remove deletes the status file on exit, as clsync does.
func (f *statusFile) remove() {
	if f.path == "" {
		return
	}
	if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		f.log.Error("remove status file", "err", err)
	}
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, errors.Join(werr, cerr))
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// writePidFile writes our pid as clsync does (no newline) and returns the
// function that removes it on exit; clsync 0.4.5 leaves a stale pid file.
func writePidFile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	if err := writeFileAtomic(path, []byte(strconv.Itoa(os.Getpid()))); err != nil {
		return nil, fmt.Errorf("pid file: %w", err)
	}
	return func() { os.Remove(path) }, nil
}

// runHook runs an exit or pre-exit hook as clsync does: "HOOK LABEL", in
// the watch dir, waiting for it. Its failure is logged, not fatal: the
// syncs it follows or precedes already happened or will.
func runHook(ctx context.Context, log *slog.Logger, what, path, label, dir string) {
	if path == "" {
		return
	}
	cmd := exec.CommandContext(ctx, path, label)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		log.Error(what+" failed", "hook", path, "err", err)
	}
}

// standbyPoll is how often a present --standby-file is checked again.
const standbyPoll = 200 * time.Millisecond

// waitStandby holds syncs while the standby file exists (clsync's "hold
// on"); it returns false if ctx ends first.
func waitStandby(ctx context.Context, path string, onHold func(bool)) bool {
	if path == "" {
		return true
	}
	held := false
	for {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			if held {
				onHold(false)
			}
			return true
		}
		if !held {
			held = true
			onHold(true)
		}
		if !sleepCtx(ctx, standbyPoll) {
			return false
		}
	}
}
