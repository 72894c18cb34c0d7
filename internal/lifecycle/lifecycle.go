// Package lifecycle is what an agent shows of itself on the file system, as
// clsync does: the status file, the pid file, the exit hooks and the state
// dump of signal 29.
package lifecycle

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// Status keeps clsync's status word (--status-file) and the handler's
// CLSYNC_STATUS in step: "starting", "initsync", "running", "synchandler
// error", "hold on", "preexit", "exiting", written without a newline and
// replaced atomically, so that a reader never sees a half-written or empty
// file. The zero value with a Path of "" keeps the word in memory only.
type Status struct {
	Path string
	// Publish, when set, is called with each word instead of writing Path
	// (a privileged helper writes the file).
	Publish func(word string) error
	// Changed, when set, is called with each new word (systemd's STATUS=).
	Changed func(word string)
	Log     *slog.Logger

	mu   sync.Mutex
	word string
}

// Set publishes word. Once the run is "terminating", only "exiting"
// follows: a sync that ends meanwhile does not make it "running" again.
func (s *Status) Set(word string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if word == s.word || s.word == "terminating" && word != "exiting" {
		return
	}
	s.word = word
	if s.Changed != nil {
		s.Changed(word)
	}
	if s.Publish != nil {
		if err := s.Publish(word); err != nil {
			s.Log.Error("publish status", "err", err)
		}
		return
	}
	if s.Path == "" {
		return
	}
	if err := writeFileAtomic(s.Path, []byte(word)); err != nil {
		s.Log.Error("write status file", "err", err)
	}
}

// Get returns the word last set.
func (s *Status) Get() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.word
}

// Remove deletes the status file on exit, as clsync does.
func (s *Status) Remove() {
	if s.Path == "" || s.Publish != nil {
		return
	}
	if err := os.Remove(s.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.Log.Error("remove status file", "err", err)
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

// WritePidFile writes our pid as clsync does (no newline) and returns the
// function that removes it on exit; clsync 0.4.5 leaves a stale pid file.
func WritePidFile(path string) (remove func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	if err := writeFileAtomic(path, []byte(strconv.Itoa(os.Getpid()))); err != nil {
		return nil, fmt.Errorf("pid file: %w", err)
	}
	return func() { os.Remove(path) }, nil
}

// WriteDump writes facts into dir, one file per fact, as clsync's signal
// 29 does. The directory must not exist yet, so that a dump never mixes
// with an older one; it is written beside and renamed into place, so that
// a reader never sees half a dump.
func WriteDump(dir string, facts map[string]string) error {
	if _, err := os.Lstat(dir); err == nil {
		return fmt.Errorf("dump to %s: %w", dir, fs.ErrExist)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".*")
	if err != nil {
		return fmt.Errorf("dump to %s: %w", dir, err)
	}
	for name, value := range facts {
		if err := os.WriteFile(filepath.Join(tmp, name), []byte(value+"\n"), 0o644); err != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("dump to %s: %w", dir, err)
		}
	}
	if err := os.Chmod(tmp, 0o750); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("dump to %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("dump to %s: %w", dir, err)
	}
	return nil
}
