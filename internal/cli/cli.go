// Package cli turns clsync's command line and config file into typed
// settings and the agent's configuration: clsync 0.4.5's option table,
// getopt_long's parsing, the GLib key file, the defaults, %option%
// expansion, and every check made before anything is started.
package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"

	"github.com/clsync-go/clsync/agent"
	"github.com/clsync-go/clsync/aggregator"
	"github.com/clsync-go/clsync/handlers"
	"github.com/clsync-go/clsync/rules"
	"github.com/clsync-go/clsync/watcher"
)

// Load turns argv (without the program name) into settings: the command
// line, then the config file for what the command line left unset (home
// finds ~/.clsync.conf), then clsync's defaults. Nothing outside the
// process is touched. Bad input is an error matching ErrInvalid.
func Load(argv []string, home string) (*Settings, error) {
	s, _, err := loadSettings(argv, home)
	return s, err
}

// Validate checks the settings against each other and against the file
// system, resolves every path in place, parses the rules file and refuses
// what this version cannot do: after it, the run can start.
func (s *Settings) Validate() error {
	if err := checkConflicts(s); err != nil {
		return err
	}
	if err := checkPaths(s); err != nil {
		return err
	}
	if err := checkImplemented(s); err != nil {
		return err
	}
	if err := checkPrivsep(s); err != nil {
		return err
	}
	if s.Splitting == "thread" {
		// A thread shares the worker's memory: in Go it would protect
		// nothing, so the helper is a process.
		s.Splitting = "process"
		s.notices = append(s.notices, "--splitting=thread runs as --splitting=process: a privileged thread in the same address space protects nothing")
	}
	if s.RulesFile != "" {
		set, err := rules.Load(s.RulesFile)
		if err != nil {
			return asInvalid(err)
		}
		s.rules = set
	}
	return nil
}

// Notices are one-line warnings about how options were taken.
func (s *Settings) Notices() []string { return s.notices }

// Logger builds the logger -Y, -d and -q ask for, writing to stderr by
// default, and the function that closes it.
func (s *Settings) Logger(stderr io.Writer) (*slog.Logger, func(), error) {
	return newLogger(s, stderr)
}

// Agent returns the agent's configuration for validated settings. ready is
// called once the watches are in place.
func (s *Settings) Agent(log *slog.Logger, ready func()) agent.Config {
	return agent.Config{
		WatchDir: s.WatchDir, Label: s.Label, Mode: s.Mode, Destination: s.Destination,
		Rules: s.rules, RulesFile: s.RulesFile,
		Handler: handlers.Config{
			Mode: s.Mode, Program: s.Handler, Template: s.Template, InitTemplate: s.InitTemplate,
			WatchDir: s.WatchDir, Destination: s.Destination, Label: s.Label,
			ListsDir: s.ListsDir, KeepLists: s.DontUnlinkLists, IncLimit: s.RsyncIncLimit,
			PreferInclude: s.RsyncPreferInclude, Ignore: s.IgnoreExitCodes,
			FullInitialSync: s.FullInitialSync, HaveRecursiveSync: s.HaveRecursiveSync,
			SynclistSimplify: s.SynclistSimplify,
			Option:           func(name string) (string, bool) { v, ok := s.values[name]; return v, ok },
			ExitHook:         s.ExitHook, PreExitHook: s.PreExitHook,
			Identity: s.handlerIdentity(),
		},
		Aggregator: aggregator.Config{
			CollectDelay: s.CollectDelay, BigFileDelay: s.BigFileDelay, SyncDelay: s.SyncDelay,
			BigFileThreshold: bigFileThreshold(s),
			// --threading=full would let two rsyncs work on one path at
			// once; measured, that leaves stale modes and fails rsync with
			// 23 on the destination, so full runs as safe does: in
			// parallel, one sync per path at a time.
			Parallel: parallelSyncs(s.Threading), Safe: s.Threading != "off",
		},
		Retries: s.Retries, IgnoreFailures: s.IgnoreFailures, SyncTimeout: s.SyncTimeout,
		StandbyFile: s.StandbyFile, ModSignature: s.ModSignature, MaxIterations: s.MaxIterations,
		SkipInitialSync: s.SkipInitialSync, OnlyInitialSync: s.OnlyInitialSync,
		ExitOnNoEvents: s.ExitOnNoEvents, SyncOnQuit: s.SyncOnQuit,
		OneFileSystem: s.OneFileSystem, ExcludeMounts: s.ExcludeMounts, Monitor: watcher.Backend(s.Monitor),
		StatusFile: s.StatusFile, PidFile: s.PidFile,
		WatchLimit: watcher.WatchLimit(),
		Ready:      ready, Logger: log,
	}
}

// threadedSyncs is how many syncs --threading=safe|full runs at once;
// clsync starts a thread per sync without a bound, which on a storm of big
// files is more rsyncs than any disk wants.
const threadedSyncs = 8

func parallelSyncs(threading string) int {
	if threading == "off" {
		return 1
	}
	return threadedSyncs
}

// bigFileThreshold is -B, or 0 (no big-file queue) when
// --cancel-syscalls=mon_stat forbids the lstat that tells a file's size.
// When both queues have the same delay the queue makes no difference, and
// the lstat per event is skipped as well.
func bigFileThreshold(s *Settings) int64 {
	if slices.Contains(s.CancelSyscalls, "mon_stat") || s.CollectDelay == s.BigFileDelay {
		return 0
	}
	return s.BigFileThreshold
}

// WriteHelp prints --help.
func WriteHelp(w io.Writer, version string) {
	fmt.Fprintf(w, "Usage: clsync [OPTION]... [-- HANDLER-ARGUMENT...]\n")
	fmt.Fprintf(w, "Keep a destination equal to a watched directory tree, live (clsync-go %s).\n\n", version)
	for _, o := range optionTable {
		if o.configOnly {
			continue
		}
		left := "    "
		if o.short != 0 {
			left = fmt.Sprintf("-%c, ", o.short)
		}
		left += "--" + o.name
		switch {
		case o.arg == argRequired:
			left += "=" + o.param
		case o.arg == argOptional && o.param != "":
			left += "[=" + o.param + "]"
		}
		fmt.Fprintf(w, "  %-40s %s\n", left, o.help)
	}
	fmt.Fprint(w, `
  clsync ctl --socket PATH status|flush|pause|resume|resync|wait-idle
                                           talk to a running agent (clsync ctl --help)

Config file keys are the long option names; "--" and "---" set the handler
templates. Numbers are plain seconds or bytes. Exit codes: 0 success, 22 invalid
input, 2 missing file or directory, 13 permission denied.
`)
}

// checkImplemented refuses the options whose behaviour this version does
// not have (yet), when given a value that asks for it, rather than running
// without it. Defaults are clsync's and are not refused: where one asks for
// something clsync-go lacks (clsync's own IPC namespace, --detach-ipc), the
// README says so.
func checkImplemented(s *Settings) error {
	given := func(name string) bool { _, ok := s.given[name]; return ok }
	split := s.Splitting != "off"
	for _, u := range []struct {
		refused bool
		what    string
	}{
		// Dropping to the identity we already have is a no-op (the chown
		// example passes --uid 0 --gid 0 and runs as root).
		{!split && (s.UID.Set && s.UID.ID != os.Getuid() || s.GID.Set && s.GID.ID != os.Getgid()), "--uid/--gid (to another user) without --splitting=process"},
		{!split && (given("privileged-uid") || given("privileged-gid")), "--privileged-uid/--privileged-gid without --splitting=process"},
		{!split && s.SeccompFilter, "--seccomp-filter without --splitting=process (clsync 0.4.5 ignores it there)"},
		{s.ShmMprotect, "--shm-mprotect"},
		{s.ForgetPrivthreadInfo, "--forget-privthread-info"},
		{!split && s.CheckExecvpArgs, "--check-execvp-arguments without --splitting=process"},
		{len(s.PermittedHookFiles) > 0, "--add-permitted-hook-files"},
		{!split && given("preserve-capabilities"), "--preserve-capabilities without --splitting=process"},
		{given("inherit-capabilities"), "--inherit-capabilities"},
		{given("cgroup-group-name"), "--cgroup-group-name"},
		{s.ExitOnSyncSkip, "--exit-on-sync-skipping"},
	} {
		if u.refused {
			return usageErrorf("%s is not available in this version of clsync-go", u.what)
		}
	}
	return nil
}
