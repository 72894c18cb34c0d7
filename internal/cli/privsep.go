package cli

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"github.com/clsync-go/clsync/agent"
	"github.com/clsync-go/clsync/handlers"
	"github.com/clsync-go/clsync/internal/sdnotify"
	"github.com/clsync-go/clsync/privsep"
	"github.com/clsync-go/clsync/privsep/caps"
	"github.com/clsync-go/clsync/privsep/sandbox"
	"github.com/clsync-go/clsync/privsep/seccomp"
	"github.com/clsync-go/clsync/privsep/split"
)

// nobody and nogroup are clsync's default -u and -g as root (65534 when
// the names do not exist).
func nobody() (uid, gid int) {
	uid, gid = 65534, 65534
	if id, ok := lookupUser("nobody"); ok {
		uid = id
	}
	if id, ok := lookupGroup("nogroup"); ok {
		gid = id
	}
	return uid, gid
}

// workerIDs are -u and -g, defaulting as root to nobody and nogroup as in
// clsync; "-u0 -g0" keeps root.
func (s *Settings) workerIDs() (uid, gid int) {
	uid, gid = os.Getuid(), os.Getgid()
	if uid == 0 {
		uid, gid = nobody()
	}
	if s.UID.Set {
		uid = s.UID.ID
	}
	if s.GID.Set {
		gid = s.GID.ID
	}
	return uid, gid
}

// Split tells whether the run is a privileged helper and a worker
// (--splitting=process; thread means process in Go, see README).
func (s *Settings) Split() bool { return s.Splitting != "off" }

// Helper is the privileged helper's configuration for a worker started
// with argv (our own command line), env, ready called once its watches
// are in place, and notify sending its systemd notifications.
func (s *Settings) Helper(argv, env []string, ready func(), notify func(string), log *slog.Logger) split.HelperConfig {
	uid, gid := s.workerIDs()
	return split.HelperConfig{
		Argv: argv, Env: env, Ready: ready, Notify: notify, Logger: log,
		WatchDir: s.WatchDir, ListsDir: s.ListsDir, KeepLists: s.DontUnlinkLists,
		StatusFile: s.StatusFile, PidFile: s.PidFile, DumpDir: s.DumpDir,
		Handler: s.Agent(log, nil).Handler,
		Worker:  split.WorkerIdentity{UID: uint32(uid), GID: uint32(gid), ReadTree: s.caps.Has(caps.CAP_DAC_READ_SEARCH), Detach: s.workerNamespaces()},
		Drop:    s.helperDrop(),
	}
}

// workerNamespaces: the worker needs no network, IPC or host name, and a
// namespace of each costs nothing; --detach-network=off keeps the host's
// network, as asked.
func (s *Settings) workerNamespaces() privsep.Namespaces {
	return privsep.Namespaces{IPC: true, UTS: true, Net: s.DetachNetwork != "off"}
}

// Worker is the agent's configuration in the worker: the helper owns the
// inotify instance, starts the handlers, writes the pid and status files.
func (s *Settings) Worker(w *split.Worker, log *slog.Logger) agent.Config {
	s.ListsDir = w.ListsDir
	cfg := s.Agent(log, w.Ready)
	cfg.Kernel = w
	cfg.Handler.Process = w
	cfg.Notify = w.Notify
	dumpDir := s.DumpDir
	cfg.WriteDump = func(dir string, facts map[string]string) error {
		// The helper writes where its own --dump-dir says, nowhere a
		// control-socket client names.
		if filepath.Clean(dir) != filepath.Clean(dumpDir) {
			return &os.PathError{Op: "dump", Path: dir, Err: fmt.Errorf("%w: with --splitting the dump goes to --dump-dir %s only", fs.ErrPermission, dumpDir)}
		}
		return w.WriteDump(dir, facts)
	}
	// systemd's watchdog is meant for the helper, our parent.
	cfg.WatchdogEvery = sdnotify.WatchdogInterval(os.Getppid())
	cfg.PublishStatus = w.SetStatus
	cfg.PidFile = ""
	return cfg
}

// checkPrivsep checks what the privilege options ask for against the
// build, the kernel and the file system, and resolves -C.
func checkPrivsep(s *Settings) error {
	if s.Split() {
		if err := split.Available(); err != nil {
			return usageErrorf("%v", err)
		}
	}
	if s.SeccompFilter {
		if err := seccomp.Available(); err != nil {
			return usageErrorf("%v", err)
		}
	}
	if s.Chroot != "" {
		fi, err := os.Stat(s.Chroot)
		if err != nil {
			return fmt.Errorf("--chroot %s: %w", s.Chroot, unwrapPathError(err))
		}
		if !fi.IsDir() {
			return usageErrorf("--chroot %s: not a directory", s.Chroot)
		}
	}
	// Once: it reads the user and group databases.
	s.handlerID = s.resolveHandlerIdentity()
	id := s.handlerID
	if err := id.Sandbox.Check(); err != nil {
		return usageErrorf("%v", err)
	}
	if err := privsep.CheckNamespaces(id.Detach); err != nil {
		return usageErrorf("%v", err)
	}
	if s.Landlock && sandbox.LandlockABI() == 0 {
		s.notices = append(s.notices, "--landlock: this kernel has no Landlock; handlers run without it (the read-only mount namespace still applies)")
	}
	return nil
}

// handlerIdentity is how handlers run, as Validate resolved it.
func (s *Settings) handlerIdentity() privsep.Identity { return s.handlerID }

// resolveHandlerIdentity is how handlers run: --sync-handler-uid/gid with
// the user's supplementary groups, the namespaces of --detach-*, the
// sandbox of --landlock, --chroot, --pivot-root, --mountpoints,
// --forbid-devices.
func (s *Settings) resolveHandlerIdentity() privsep.Identity {
	id := privsep.Identity{
		UID: uint32(s.HandlerUID.ID), SetUID: s.HandlerUID.Set,
		GID: uint32(s.HandlerGID.ID), SetGID: s.HandlerGID.Set,
	}
	if id.SetUID {
		id.Groups = groupsOf(s.HandlerUID.ID)
	}
	id.Detach.Net = s.DetachNetwork == "everywhere"
	// The manual's IPC namespace (clsync 0.4.5's code unshares UTS).
	_, given := s.given["detach-ipc"]
	id.Detach.IPC = s.DetachIPC && given || s.DetachMiscellanea
	id.Detach.UTS = s.DetachMiscellanea
	spec := sandbox.Spec{Chroot: s.Chroot, PivotRoot: s.PivotRoot, Mountpoints: s.Mountpoints, ForbidDevices: s.ForbidDevices}
	if s.Landlock {
		remote := s.Destination != "" && handlers.IsRemote(s.Destination)
		spec.Landlock, spec.ReadOnlyRoot, spec.Network = true, true, remote
		spec.ReadDirs = []string{s.WatchDir, filepath.Dir(s.Handler)}
		if s.ListsDir != "" {
			spec.ReadDirs = append(spec.ReadDirs, s.ListsDir)
		}
		if !remote && s.Destination != "" {
			spec.WriteDirs = []string{s.Destination}
		}
		if home, err := os.UserHomeDir(); remote && err == nil {
			if _, err := os.Stat(filepath.Join(home, ".ssh")); err == nil {
				spec.ReadDirs = append(spec.ReadDirs, filepath.Join(home, ".ssh"))
			}
		}
	}
	if !spec.IsZero() {
		// A handler that is not root gains nothing from setuid programs;
		// a root one keeps what mirroring needs, not all of root.
		spec.NoNewPrivs = id.SetUID && id.UID != 0 || !id.SetUID && os.Getuid() != 0
		if os.Geteuid() == 0 {
			spec.Bounding = uint64(caps.RootHandler)
		}
	}
	id.Sandbox = spec
	return id
}

// groupsOf is the supplementary groups of user uid, as login gives them.
func groupsOf(uid int) []uint32 {
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return nil
	}
	names, err := u.GroupIds()
	if err != nil {
		return nil
	}
	var groups []uint32
	for _, g := range names {
		if id, err := strconv.ParseUint(g, 10, 32); err == nil {
			groups = append(groups, uint32(id))
		}
	}
	return groups
}

// helperDrop lowers the helper to --privileged-uid/gid (default: ours)
// with -C, keeping CAP_SYS_ADMIN when handlers get namespaces, and a
// bounding set that still lets a root handler mirror (and the exec shim
// set up its sandbox).
func (s *Settings) helperDrop() func() error {
	id := s.handlerIdentity()
	keep := s.caps
	bounding := caps.RootHandler
	// Handlers' namespaces need CAP_SYS_ADMIN at fork; the sandbox's
	// thread is built before the drop and needs nothing after it.
	if id.Detach.Any() {
		keep |= 1 << caps.CAP_SYS_ADMIN
	}
	uid, gid := os.Getuid(), os.Getgid()
	if s.PrivilegedUID.Set {
		uid = s.PrivilegedUID.ID
	}
	if s.PrivilegedGID.Set {
		gid = s.PrivilegedGID.ID
	}
	return func() error {
		return caps.Drop(caps.Creds{UID: uint32(uid), GID: uint32(gid)}, keep, bounding)
	}
}

// Confinement is the worker's: read the watch dir and the rules file,
// write the lists.
func (s *Settings) Confinement() split.Confinement {
	c := split.Confinement{WatchDir: s.WatchDir, ListsDir: s.ListsDir, Seccomp: s.SeccompFilter, PermitMprotect: s.PermitMprotect}
	if s.RulesFile != "" {
		c.ReadFiles = []string{s.RulesFile}
	}
	return c
}
