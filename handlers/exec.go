package handlers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"github.com/clsync-go/clsync/privsep"
)

// ExitError is a handler run that ended with a non-zero exit code that is
// not ignored.
type ExitError struct {
	Argv []string
	Code int
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("sync handler %s exited with code %d", e.Argv[0], e.Code)
}

// Runner starts handler processes: in the watch dir, in a process group of
// their own (so a stop kills rsync's children too), with clsync's
// environment, killed if the agent dies.
type Runner struct {
	Dir string // working directory: the watch dir
	// Ignore lists exit codes that count as success (-x, and 24 for rsync).
	Ignore map[int]bool
	// Env adds variables to the handler's environment (CLSYNC_STATUS, ...).
	Env func() []string
	// Identity is the user and group the handler runs as.
	Identity privsep.Identity
}

// Run executes argv and waits for it. A cancelled ctx (a stop, or the -k
// timeout) kills the whole process group.
func (r *Runner) Run(ctx context.Context, argv []string) error {
	return r.RunTo(ctx, argv, os.Stderr)
}

// RunTo is Run with the handler's stderr going to stderr. Its stdout is
// ours, as in clsync (a dry run with -S echo prints there).
func (r *Runner) RunTo(ctx context.Context, argv []string, stderr io.Writer) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = r.Dir
	cmd.Stdout = os.Stdout
	cmd.Stderr = stderr
	cmd.Env = os.Environ()
	if r.Env != nil {
		cmd.Env = append(cmd.Env, r.Env()...)
	}
	cmd.SysProcAttr = privsep.HandlerAttr(r.Identity)
	waited, err := privsep.Start(cmd)
	if err != nil {
		return fmt.Errorf("start sync handler %s: %w", argv[0], err)
	}
	select {
	case err = <-waited:
	case <-ctx.Done():
		// Negative pid: the process group, so rsync's own children die too.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-waited
		return fmt.Errorf("sync handler %s: killed: %w", argv[0], context.Cause(ctx))
	}
	if err == nil {
		return nil
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code := exitErr.ExitCode()
		if code < 0 {
			return fmt.Errorf("sync handler %s: %s", argv[0], exitErr.ProcessState)
		}
		if r.Ignore[code] {
			return nil
		}
		return &ExitError{Argv: argv, Code: code}
	}
	return fmt.Errorf("sync handler %s: %w", argv[0], err)
}

// IterationEnv is clsync's handler environment: CLSYNC_STATUS and
// CLSYNC_ITERATION.
func IterationEnv(status string, iteration int) []string {
	return []string{"CLSYNC_STATUS=" + status, "CLSYNC_ITERATION=" + strconv.Itoa(iteration)}
}
