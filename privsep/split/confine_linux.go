package split

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/landlock-lsm/go-landlock/landlock"

	"github.com/clsync-go/clsync/privsep/caps"
	"github.com/clsync-go/clsync/privsep/sandbox"
	"github.com/clsync-go/clsync/privsep/seccomp"
)

// Confine drops the worker to CAP_DAC_READ_SEARCH alone (bounding set
// included, on every thread), then restricts it with Landlock to reading
// the watch dir and the files it re-reads and writing its lists, no TCP
// (best effort: a kernel without Landlock gets a warning), then loads the
// seccomp filter if asked.
func Confine(c Confinement, log *slog.Logger) error {
	id := caps.Creds{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
	readTree := caps.Set(1) << caps.CAP_DAC_READ_SEARCH
	if err := caps.Drop(id, readTree, 0); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	rules := []landlock.Rule{
		landlock.RODirs(c.WatchDir),
		landlock.RWDirs(c.ListsDir),
		// -X reads the mount table.
		landlock.RODirs("/proc/self"),
	}
	if len(c.ReadFiles) > 0 {
		rules = append(rules, landlock.ROFiles(c.ReadFiles...))
	}
	if sandbox.LandlockABI() == 0 {
		log.Warn("this kernel has no Landlock: the worker is not confined to the watch dir (it runs unprivileged, with CAP_DAC_READ_SEARCH)")
	} else if err := landlock.V7.BestEffort().Restrict(rules...); err != nil {
		return fmt.Errorf("worker: landlock: %w", err)
	}
	if c.Seccomp {
		// openat2: the watcher opens directories without following
		// symlinks in any component.
		if err := seccomp.Load(seccomp.Options{PermitMprotect: c.PermitMprotect, Extra: []string{"openat2"}}); err != nil {
			return fmt.Errorf("worker: %w", err)
		}
	}
	return nil
}
