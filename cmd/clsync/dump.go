package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// dumpSignal is clsync's signal 29: dump the instance's state to --dump-dir.
const dumpSignal = syscall.Signal(29)

// dump writes what the agent knows about itself into dir, one file per
// fact, as clsync's signal 29 does. The directory must not exist yet, so a
// dump never mixes with an older one.
func (r *syncRun) dump(dir string, watches int) error {
	if err := os.Mkdir(dir, 0o750); err != nil {
		return fmt.Errorf("dump to %s: %w", dir, err)
	}
	facts := map[string]string{
		"status":          r.status.get(),
		"iteration":       strconv.FormatInt(r.iteration.Load(), 10),
		"events":          strconv.FormatInt(r.events.Load(), 10),
		"watches":         strconv.Itoa(watches),
		"label":           r.s.Label,
		"watch-dir":       r.s.WatchDir,
		"destination-dir": r.s.Destination,
		"mode":            r.s.Mode,
		"pid":             strconv.Itoa(os.Getpid()),
	}
	for name, value := range facts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(value+"\n"), 0o644); err != nil {
			return fmt.Errorf("dump to %s: %w", dir, err)
		}
	}
	return nil
}
