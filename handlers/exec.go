package handlers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

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
// environment, under a timeout.
type Runner struct {
	Dir     string        // working directory: the watch dir
	Timeout time.Duration // -k; 0 = none
	// Ignore lists exit codes that count as success (-x, and 24 for rsync).
	Ignore map[int]bool
	// Env adds variables to the handler's environment (CLSYNC_STATUS, ...).
	Env func() []string
	// Identity is the user and group the handler runs as.
	Identity privsep.Identity
}

// Run executes argv and waits for it. A cancelled ctx or an expired timeout
// kills the whole process group.
func (r *Runner) Run(ctx context.Context, argv []string) error {
	if r.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.Timeout)
		defer cancel()
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = r.Dir
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	cmd.Env = os.Environ()
	if r.Env != nil {
		cmd.Env = append(cmd.Env, r.Env()...)
	}
	cmd.SysProcAttr = privsep.HandlerAttr(r.Identity)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start sync handler %s: %w", argv[0], err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var err error
	select {
	case err = <-waited:
	case <-ctx.Done():
		// Negative pid: the process group, so rsync's own children die too.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-waited
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("sync handler %s: killed after the %s timeout (-k)", argv[0], r.Timeout)
		}
		return ctx.Err()
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
