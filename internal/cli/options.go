package cli

// argKind says whether an option takes an argument, as in getopt_long(3).
type argKind int

const (
	argNone     argKind = iota // --flag
	argRequired                // --opt=VALUE, --opt VALUE, -oVALUE, -o VALUE
	argOptional                // --opt or --opt=VALUE, -o or -oVALUE (never a separate word)
)

// optionSpec describes one of clsync 0.4.5's options (plus ours, marked as
// such in the help). The table below is the contract: names, short letters
// and argument kinds are clsync's, so old command lines and config files work.
type optionSpec struct {
	name  string
	short byte // 0: long option only
	arg   argKind
	param string // argument name for --help
	help  string
	// configOnly options are keys of the config file that are not options
	// on the command line ("--" and "---": the handler templates).
	configOnly bool
	// cliOnly options make no sense in a config file.
	cliOnly bool
}

// The order is clsync's --help order, so both help texts read alike.
var optionTable = []optionSpec{
	{name: "watch-dir", short: 'W', arg: argRequired, param: "DIR", help: "directory tree to watch and sync (required)"},
	{name: "sync-handler", short: 'S', arg: argRequired, param: "PATH", help: "program to run for syncs (rsync for rsyncdirect, cp for direct if unset)"},
	{name: "--", arg: argRequired, param: "ARGS", help: "handler argument template (config file key; on the command line: words after --)", configOnly: true},
	{name: "---", arg: argRequired, param: "ARGS", help: "initial-sync handler argument template (config file key)", configOnly: true},
	{name: "rules-file", short: 'R', arg: argRequired, param: "FILE", help: "filter rules, one [+-][fdWwms*]regex per line"},
	{name: "destination-dir", short: 'D', arg: argRequired, param: "DIR", help: "destination for rsyncdirect and %destination-dir%"},
	{name: "mode", short: 'M', arg: argRequired, param: "MODE", help: "simple, direct, shell, rsyncdirect, rsyncshell or plugin (required)"},
	{name: "socket", short: 's', arg: argRequired, param: "PATH", help: "control socket path"},
	{name: "socket-auth", arg: argRequired, param: "MECH", help: "control socket authentication: null"},
	{name: "socket-mod", arg: argRequired, param: "OCTAL", help: "control socket file mode"},
	{name: "socket-own", arg: argRequired, param: "USER[:GROUP]", help: "control socket owner"},
	{name: "status-file", arg: argRequired, param: "PATH", help: "write the current status word to this file"},
	{name: "background", short: 'b', arg: argOptional, param: "0|1", help: "daemonise"},
	{name: "config-file", short: 'H', arg: argRequired, param: "PATH", help: "config file to read (/NULL/ for none)", cliOnly: true},
	{name: "config-block", short: 'K', arg: argRequired, param: "NAME", help: "config file block to use (default \"default\")", cliOnly: true},
	{name: "config-block-inherits", arg: argRequired, param: "NAME", help: "parent block of the config block"},
	{name: "custom-signals", arg: argRequired, param: "SIG:BLOCK,...", help: "switch to a config block on a signal (0 resets)"},
	{name: "pid-file", short: 'z', arg: argRequired, param: "PATH", help: "write the process id to this file"},
	{name: "uid", short: 'u', arg: argRequired, param: "USER", help: "drop privileges to this user"},
	{name: "gid", short: 'g', arg: argRequired, param: "GROUP", help: "drop privileges to this group"},
	{name: "privileged-uid", arg: argRequired, param: "USER", help: "user of the privileged process (--splitting=process)"},
	{name: "privileged-gid", arg: argRequired, param: "GROUP", help: "group of the privileged process (--splitting=process)"},
	{name: "sync-handler-uid", arg: argRequired, param: "USER", help: "user the sync handler runs as"},
	{name: "sync-handler-gid", arg: argRequired, param: "GROUP", help: "group the sync handler runs as"},
	{name: "chroot", arg: argRequired, param: "DIR", help: "chroot to this directory before syncing"},
	{name: "pivot-root", arg: argRequired, param: "WAY", help: "off, direct, auto or auto-ro (requires --chroot)"},
	{name: "detach-network", arg: argRequired, param: "WAY", help: "off, non-privileged or everywhere"},
	{name: "detach-ipc", arg: argRequired, param: "0|1", help: "use an IPC namespace of our own"},
	{name: "detach-miscellanea", arg: argOptional, param: "0|1", help: "unshare every other namespace"},
	{name: "secure-splitting", arg: argNone, help: "--splitting=process --check-execvp-arguments --seccomp-filter --forbid-devices"},
	{name: "splitting", arg: argRequired, param: "TYPE", help: "privilege splitting: off, thread or process"},
	{name: "check-execvp-arguments", arg: argOptional, param: "0|1", help: "recheck handler arguments in the privileged process"},
	{name: "add-permitted-hook-files", arg: argRequired, param: "PATH,...", help: "hooks allowed past --check-execvp-arguments"},
	{name: "seccomp-filter", arg: argOptional, param: "0|1", help: "forbid syscalls the watcher does not need"},
	{name: "forget-privthread-info", arg: argOptional, param: "0|1", help: "forget privileged thread details after start"},
	{name: "permit-mprotect", arg: argOptional, param: "0|1", help: "allow executable memory under --seccomp-filter"},
	{name: "shm-mprotect", arg: argOptional, param: "0|1", help: "protect shared memory (--splitting=process)"},
	{name: "mountpoints", arg: argRequired, param: "DIR,...", help: "unmount everything but these mount points"},
	{name: "preserve-capabilities", short: 'C', arg: argRequired, param: "CAP,...", help: "capabilities kept after dropping privileges"},
	{name: "inherit-capabilities", arg: argOptional, param: "MODE", help: "permitted, dont-touch, clsync or empty"},
	{name: "forbid-devices", arg: argOptional, param: "0|1", help: "handlers see no devices but null, zero, full, random, urandom, tty"},
	{name: "landlock", arg: argOptional, param: "0|1", help: "confine handlers: read the watch dir, write only the destination (clsync-go)"},
	{name: "cgroup-group-name", arg: argRequired, param: "NAME", help: "cgroup name for --forbid-devices"},
	{name: "threading", short: 'p', arg: argRequired, param: "MODE", help: "parallel syncs: off, safe or full"},
	{name: "retries", short: 'r', arg: argRequired, param: "N", help: "tries per sync before giving up (0 = forever, default 1)"},
	{name: "ignore-failures", arg: argOptional, param: "0|1", help: "do not exit when a sync fails"},
	{name: "exit-on-sync-skipping", arg: argOptional, param: "0|1", help: "exit if an event could be skipped"},
	{name: "output", short: 'Y', arg: argRequired, param: "DEST", help: "log to stderr, stdout or syslog"},
	{name: "log-format", arg: argRequired, param: "FORMAT", help: "log lines as text or json (clsync-go)"},
	{name: "metrics-listen", arg: argRequired, param: "ADDR", help: "serve Prometheus metrics at http://ADDR/metrics (clsync-go)"},
	{name: "one-file-system", arg: argOptional, param: "0|1", help: "do not cross mount points"},
	{name: "exclude-mount-points", short: 'X', arg: argOptional, param: "0|1", help: "--one-file-system and exclude mount points from syncs"},
	{name: "max-iterations", arg: argRequired, param: "N", help: "stop after N handler runs (0 = no limit)"},
	{name: "standby-file", arg: argRequired, param: "PATH", help: "suspend syncs while this file exists"},
	{name: "modification-signature", arg: argRequired, param: "FIELDS", help: "skip objects whose stat fields did not change (\"*\" = all)"},
	{name: "timeout-sync", short: 'k', arg: argRequired, param: "SECONDS", help: "kill a sync running longer (0 = never, default 86400)"},
	{name: "delay-sync", short: 'w', arg: argRequired, param: "SECONDS", help: "minimum delay between syncs (default 30)"},
	{name: "delay-collect", short: 't', arg: argRequired, param: "SECONDS", help: "delay to collect events (default 30)"},
	{name: "delay-collect-bigfile", short: 'T', arg: argRequired, param: "SECONDS", help: "delay to collect events on big files (default 1800)"},
	{name: "threshold-bigfile", short: 'B', arg: argRequired, param: "BYTES", help: "size from which a file is big (0 = off, default 134217728)"},
	{name: "cancel-syscalls", arg: argRequired, param: "LIST", help: "syscalls to skip: mon_stat"},
	{name: "lists-dir", short: 'L', arg: argRequired, param: "DIR", help: "directory for list files passed to handlers"},
	{name: "have-recursive-sync", arg: argOptional, param: "0|1", help: "shell mode: initialsync whole directories"},
	{name: "synclist-simplify", arg: argOptional, param: "0|1", help: "shell mode: write only paths into list files"},
	{name: "rsync-inclimit", arg: argRequired, param: "LINES", help: "split rsync include lists, and rsyncdirect's --files-from lists, longer than this (default 20000)"},
	{name: "rsync-prefer-include", arg: argOptional, param: "0|1", help: "rsync modes: includes only, no exclude list"},
	{name: "ignore-exitcode", short: 'x', arg: argRequired, param: "CODE,...", help: "handler exit codes that are not failures (0 resets the list)"},
	{name: "dont-unlink-lists", short: 'U', arg: argOptional, param: "0|1", help: "keep list files after the handler ran"},
	{name: "fts-experimental-optimization", arg: argOptional, param: "0|1", help: "accepted for compatibility; does nothing"},
	{name: "full-initialsync", short: 'F', arg: argOptional, param: "0|1", help: "ignore the rules during the initial sync"},
	{name: "only-initialsync", arg: argOptional, param: "0|1", help: "exit after the initial sync"},
	{name: "skip-initialsync", arg: argOptional, param: "0|1", help: "do not run the initial sync"},
	{name: "exit-on-no-events", arg: argOptional, param: "0|1", help: "exit once the initial sync and all events since are synced"},
	{name: "exit-hook", arg: argRequired, param: "PATH", help: "program run on exit with the label"},
	{name: "pre-exit-hook", arg: argRequired, param: "PATH", help: "program run before the last sync with the label"},
	{name: "sync-on-quit", arg: argOptional, param: "0|1", help: "on SIGQUIT, sync the queue before exiting"},
	{name: "verbose", short: 'v', arg: argOptional, param: "N", help: "accepted for compatibility; does nothing"},
	{name: "debug", short: 'd', arg: argOptional, param: "N", help: "more log output; repeat or give a level up to 5"},
	{name: "dump-dir", arg: argRequired, param: "DIR", help: "where signal 29 dumps state (default /tmp/clsync-dump-%label%)"},
	{name: "quiet", short: 'q', arg: argOptional, param: "0|1", help: "suppress error messages"},
	{name: "monitor", arg: argRequired, param: "NAME", help: "file-system monitor: inotify (default on Linux), fanotify (Linux, root: one mark per file system, no watch limit), kqueue (FreeBSD default), or auto"},
	{name: "label", short: 'l', arg: argRequired, param: "LABEL", help: "instance label passed to handlers (default nolabel)"},
	{name: "check-rules", arg: argOptional, param: "PATH", help: "(clsync-go) print which rule decides each PATH argument, then exit", cliOnly: true},
	{name: "help", short: 'h', arg: argOptional, help: "print this help and exit", cliOnly: true},
	{name: "version", short: 'V', arg: argOptional, help: "print the version and exit", cliOnly: true},
}

// lookupOption finds an option by its full long name.
func lookupOption(name string) (*optionSpec, bool) {
	for i := range optionTable {
		if optionTable[i].name == name {
			return &optionTable[i], true
		}
	}
	return nil, false
}
