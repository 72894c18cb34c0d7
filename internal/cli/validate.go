package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/clsync-go/clsync/watcher"

	"github.com/clsync-go/clsync/handlers"
	"github.com/clsync-go/clsync/internal/metrics"
	"golang.org/x/sys/unix"
)

// checkConflicts rejects every combination clsync 0.4.5 rejects (main.c,
// ctx_check) and a few it accepts but cannot honour. It only looks at the
// settings; checkPaths looks at the file system.
func checkConflicts(s *Settings) error {
	conflict := func(a, b string) error {
		return usageErrorf("conflicting options: %s and %s cannot be used together", a, b)
	}
	rsyncMode := s.Mode == "rsyncdirect" || s.Mode == "rsyncshell" || s.Mode == "rsyncso"
	threaded := s.Threading != "off"
	switch {
	case s.Mode == "":
		return usageErrorf("--mode is not set (one of: simple, direct, shell, rsyncdirect, rsyncshell, plugin)")
	case s.Mode == "so" || s.Mode == "rsyncso":
		return usageErrorf("--mode=%s loads C shared objects, which Go cannot do; write a Go plugin and use --mode=plugin (see examples/plugin)", s.Mode)
	case s.WatchDir == "":
		return usageErrorf("--watch-dir is not set")
	case s.SocketOwn != "" && s.Socket == "":
		return usageErrorf("--socket-own is useless without --socket")
	case s.SocketModSet && s.Socket == "":
		return usageErrorf("--socket-mod is useless without --socket")
	case s.SocketAuth != "" && s.Socket == "":
		return usageErrorf("--socket-auth is useless without --socket")
	case s.Splitting != "off" && s.Mode == "plugin":
		return usageErrorf("--mode=plugin runs the plugin inside the agent, which --splitting=%s makes unprivileged and confined: use an exec mode", s.Splitting)
	case s.MetricsListen != "" && metrics.Available() != nil:
		return usageErrorf("%v", metrics.Available())
	case s.Splitting != "off" && len(s.CustomSignals) > 0:
		return conflict("--splitting="+s.Splitting, "--custom-signals")
	case s.PivotRoot != "off" && s.Chroot == "":
		return usageErrorf("--pivot-root cannot be used without --chroot")
	case s.StandbyFile != "" && s.Mode == "simple":
		return usageErrorf("--standby-file cannot be used in mode simple")
	case threaded && s.OnlyInitialSync:
		return conflict("--threading="+s.Threading, "--only-initialsync")
	case threaded && s.ExitOnNoEvents:
		return conflict("--threading="+s.Threading, "--exit-on-no-events")
	case threaded && s.MaxIterations != 0:
		return conflict("--threading="+s.Threading, "--max-iterations")
	case threaded && s.PreExitHook != "":
		return conflict("--threading="+s.Threading, "--pre-exit-hook")
	case threaded && s.Splitting == "thread":
		return conflict("--threading="+s.Threading, "--splitting=thread")
	case threaded && s.SeccompFilter:
		return conflict("--threading="+s.Threading, "--seccomp-filter")
	case s.SkipInitialSync && s.ExitOnNoEvents:
		return conflict("--skip-initialsync", "--exit-on-no-events")
	case s.OnlyInitialSync && s.ExitOnNoEvents:
		return conflict("--only-initialsync", "--exit-on-no-events")
	case s.SkipInitialSync && s.OnlyInitialSync:
		return conflict("--skip-initialsync", "--only-initialsync")
	case s.FullInitialSync && s.SkipInitialSync:
		return conflict("--full-initialsync", "--skip-initialsync")
	case len(s.ModSignature) > 0 && slices.Contains(s.CancelSyscalls, "mon_stat"):
		return conflict("--modification-signature", "--cancel-syscalls=mon_stat")
	case rsyncMode && (slices.Contains(s.ModSignature, "*") || slices.Contains(s.ModSignature, "ctime")):
		// rsync never changes its source, so with ctime (which every
		// change moves) the signature can only serve clsync's recipe
		// "Making two directories synchronous", which loses files.
		return usageErrorf("--modification-signature=%s in mode %s is clsync's recipe for two directories synced both ways "+
			"by two agents, which loses files: each initial sync deletes what only the other side has, and rsync replaces "+
			"what it copies, so the copies come back as changes; clsync-go syncs one way (README: \"Two-way sync\")",
			strings.Join(s.ModSignature, ","), s.Mode)
	case s.HaveRecursiveSync && rsyncMode:
		return usageErrorf("--have-recursive-sync cannot be used in mode %s", s.Mode)
	case s.SynclistSimplify && s.ListsDir == "":
		return usageErrorf("--synclist-simplify needs --lists-dir")
	case s.SynclistSimplify && rsyncMode:
		return usageErrorf("--synclist-simplify cannot be used in mode %s", s.Mode)
	case s.CheckExecvpArgs && s.Mode == "direct":
		return conflict("--check-execvp-arguments", "--mode=direct (direct mode has a variable number of arguments)")
	case !monitorOffered(s.Monitor):
		return usageErrorf("--monitor=%s is not available on this system (it offers %s)", s.Monitor, watcher.Offered())
	case s.Monitor == string(watcher.Fanotify) && s.Splitting != "off":
		return conflict("--monitor=fanotify", "--splitting="+s.Splitting+" (the privileged helper adds inotify watches only)")
	case s.Mode == "rsyncdirect" && s.Destination == "" && templateNeedsDestination(s.Template):
		return usageErrorf("mode rsyncdirect needs --destination-dir (or a handler template that names the destination itself)")
	case s.Mode == "direct" && s.Destination == "" && templateNeedsDestination(s.Template):
		// clsync 0.4.5 expands the unset %destination-dir% to "/" here.
		return usageErrorf("mode direct needs --destination-dir (or a handler template without %%destination-dir%%)")
	}
	if s.Handler == "" && s.Mode != "direct" && s.Mode != "rsyncdirect" {
		return usageErrorf("--sync-handler is not set (required in mode %s)", s.Mode)
	}
	return nil
}

// templateNeedsDestination: the default rsyncdirect template uses
// %destination-dir%; a custom one needs -D only if it refers to it.
// clsync 0.4.5 demands -D even when the template names the destination.
func templateNeedsDestination(template []string) bool {
	if template == nil {
		return true
	}
	for _, w := range template {
		if strings.Contains(w, "%destination-dir%") {
			return true
		}
	}
	return false
}

// checkPaths resolves and checks every path the run depends on, before
// anything is started: the watch dir, the destination, the handler, hooks,
// the lists dir. Paths are made absolute in place.
func checkPaths(s *Settings) error {
	w, err := resolveDir("watch dir", s.WatchDir)
	if err != nil {
		return err
	}
	s.WatchDir = w
	if s.Destination != "" && !handlers.IsRemote(s.Destination) {
		d, err := resolveDir("destination dir", s.Destination)
		if err != nil {
			return err
		}
		if d == "/" {
			return usageErrorf("destination dir %s: refusing to sync onto /", s.Destination)
		}
		if d == w || strings.HasPrefix(d+"/", w+"/") || strings.HasPrefix(w+"/", d+"/") {
			return usageErrorf("destination dir %s and watch dir %s overlap: the mirror would sync into itself", d, w)
		}
		// rsyncdirect writes there itself: say so now, not after the
		// initial sync failed half-way. (A split worker that dropped its
		// privileges leaves this to its helper, which starts rsync.)
		if s.Mode == "rsyncdirect" && !(s.Split() && os.Geteuid() != 0) {
			if err := unix.Faccessat(unix.AT_FDCWD, d, unix.W_OK, unix.AT_EACCESS); err != nil {
				return fmt.Errorf("destination dir %s: not writable: %w", s.Destination, err)
			}
		}
		s.Destination = d
	}
	if s.Handler == "" {
		switch s.Mode {
		case "direct":
			s.Handler = "cp"
		case "rsyncdirect":
			s.Handler = "rsync"
		}
	}
	if s.Mode == "plugin" {
		if _, err := os.Stat(s.Handler); err != nil {
			return fmt.Errorf("plugin %s: %w", s.Handler, unwrapPathError(err))
		}
	} else {
		h, err := resolveExecutable("sync handler", s.Handler)
		if err != nil {
			return err
		}
		s.Handler = h
	}
	for _, hook := range []struct {
		what string
		path *string
	}{{"exit hook", &s.ExitHook}, {"pre-exit hook", &s.PreExitHook}} {
		if *hook.path == "" {
			continue
		}
		p, err := resolveExecutable(hook.what, *hook.path)
		if err != nil {
			return err
		}
		*hook.path = p
	}
	if s.ListsDir != "" {
		// Handlers get the lists' paths, and run in the watch dir.
		abs, err := filepath.Abs(s.ListsDir)
		if err != nil {
			return fmt.Errorf("lists dir %s: %w", s.ListsDir, err)
		}
		s.ListsDir = abs
		fi, err := os.Stat(s.ListsDir)
		if err != nil {
			return fmt.Errorf("lists dir %s: %w", s.ListsDir, unwrapPathError(err))
		}
		if !fi.IsDir() {
			return fmt.Errorf("lists dir %s: %w", s.ListsDir, syscall.ENOTDIR)
		}
		// The lists name every changed path and are read by the handler:
		// nobody else may read or replace them.
		if fi.Mode().Perm()&0o077 != 0 {
			return fmt.Errorf("lists dir %s: mode %04o lets other users read or replace the lists (chmod go= it): %w",
				s.ListsDir, fi.Mode().Perm(), fs.ErrPermission)
		}
	}
	if s.RulesFile != "" {
		if _, err := os.Stat(s.RulesFile); err != nil {
			return fmt.Errorf("rules file %s: %w", s.RulesFile, unwrapPathError(err))
		}
	}
	return nil
}

func resolveDir(what, p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", what, p, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", what, p, unwrapPathError(err))
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", what, p, unwrapPathError(err))
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s %s: %w", what, p, syscall.ENOTDIR)
	}
	if err := unix.Faccessat(unix.AT_FDCWD, real, unix.R_OK|unix.X_OK, unix.AT_EACCESS); err != nil {
		return "", fmt.Errorf("%s %s: %w", what, p, err)
	}
	return real, nil
}

// resolveExecutable finds a handler or hook and returns its absolute path:
// a name without a slash is looked up in PATH, as execvp(3) would, and a
// relative path is taken from the current directory now, not from the
// watch dir, where handlers run.
func resolveExecutable(what, p string) (string, error) {
	found, err := exec.LookPath(p)
	if err == nil {
		abs, err := filepath.Abs(found)
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", what, p, err)
		}
		return abs, nil
	}
	if !strings.Contains(p, "/") {
		return "", fmt.Errorf("%s %q: not found in PATH: %w", what, p, fs.ErrNotExist)
	}
	fi, serr := os.Stat(p)
	switch {
	case serr != nil:
		return "", fmt.Errorf("%s %s: %w", what, p, unwrapPathError(serr))
	case fi.IsDir():
		return "", fmt.Errorf("%s %s: is a directory: %w", what, p, syscall.EACCES)
	default:
		return "", fmt.Errorf("%s %s: not executable: %w", what, p, syscall.EACCES)
	}
}

// unwrapPathError drops the *fs.PathError wrapper, whose text repeats the
// path we already name, keeping the errno for exitCode.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// monitorOffered tells whether this build has the --monitor backend m.
func monitorOffered(m string) bool {
	_, err := watcher.ParseBackend(m)
	return err == nil
}
