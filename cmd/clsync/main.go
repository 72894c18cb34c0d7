// Command clsync keeps a destination equal to a watched directory tree, live.
// It is a command-line compatible successor of clsync 0.4.5.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

const version = "0.1.0"

// gcPercent keeps the heap small: the agent runs for months next to the
// services it mirrors, and its peak memory at startup (walking millions of
// directories) matters more than the little CPU a tighter GC costs. GOGC in
// the environment still wins.
const gcPercent = 30

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	code, reexec := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if reexec != nil {
		stop()
		// Our identity stays (same pid for the pid file and for systemd),
		// the new block's options take effect, and its initial sync
		// covers whatever changed in between.
		self, err := os.Executable()
		if err == nil {
			argv := append(append([]string{os.Args[0]}, os.Args[1:]...), "--config-block="+reexec.block)
			err = syscall.Exec(self, argv, os.Environ())
		}
		fmt.Fprintf(os.Stderr, "clsync: switch to config block %s: %s\n", reexec.block, err)
		os.Exit(exitCode(err))
	}
	os.Exit(code)
}

// reexecError ends a run so that main starts the program again with
// another config block (--custom-signals). Go cannot change a running
// program's options in place as clsync does; starting again with the same
// pid and arguments plus the block gives the same result.
type reexecError struct{ block string }

func (e *reexecError) Error() string { return "switch to config block " + e.block }

// runMain is run, telling main when to start again with another block.
func runMain(ctx context.Context, argv []string, stdout, stderr io.Writer) (int, *reexecError) {
	err := runErr(ctx, argv, stdout, stderr)
	var re *reexecError
	if errors.As(err, &re) {
		return 0, re
	}
	report(stderr, err)
	return exitCode(err), nil
}

// run is the whole program behind main, so tests can call it in process.
// It returns the exit code.
func run(ctx context.Context, argv []string, stdout, stderr io.Writer) int {
	code, _ := runMain(ctx, argv, stdout, stderr)
	return code
}

// report prints an error as the one line clsync users get.
func report(stderr io.Writer, err error) {
	if err != nil && err.Error() != "" {
		fmt.Fprintf(stderr, "clsync: %s\n", oneLine(err.Error()))
	}
}

func runErr(ctx context.Context, argv []string, stdout, stderr io.Writer) error {
	s, _, err := loadSettings(argv, os.Getenv("HOME"))
	if err != nil {
		return err
	}
	switch {
	case s.Help:
		writeHelp(stdout)
		return nil
	case s.Version:
		fmt.Fprintf(stdout, "clsync-go %s (command-line compatible with clsync 0.4.5)\n", version)
		return nil
	case s.CheckRulesSet:
		return checkRules(stdout, s)
	}
	if err := checkConflicts(s); err != nil {
		return err
	}
	if err := checkPaths(s); err != nil {
		return err
	}
	if err := checkImplemented(s); err != nil {
		return err
	}
	if s.Background && os.Getenv(daemonEnv) == "" {
		return daemonize(argv, stderr)
	}
	return runSync(ctx, s, stderr)
}

// oneLine keeps an error on one line of the log, whatever a path contains.
func oneLine(s string) string {
	return strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(s)
}

func writeHelp(w io.Writer) {
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
Config file keys are the long option names; "--" and "---" set the handler
templates. Numbers are plain seconds or bytes. Exit codes: 0 success, 22 invalid
input, 2 missing file or directory, 13 permission denied.
`)
}
