package handlers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"github.com/clsync-go/clsync/privsep"
	"github.com/clsync-go/clsync/privsep/sandbox"
)

// ExitError is a handler run that ended with a non-zero exit code that is
// not ignored.
type ExitError struct {
	Program string
	Code    int
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("sync handler %s exited with code %d", e.Program, e.Code)
}

// Process starts handler processes and waits for them. Local runs them
// itself; privsep's worker asks its privileged helper, which builds the
// argv from its own Config with Argv.
type Process interface {
	// Run runs inv with env added to its environment and its stderr going
	// to stderr, until it ends. A cancelled ctx kills its process group
	// (rsync's own children too) and returns ctx's cause.
	Run(ctx context.Context, inv Invocation, env []string, stderr io.Writer) (Exit, error)
}

// Local runs handlers from this process: in the watch dir, in a process
// group of their own, as Config.Identity, with our stdout (as in clsync: a
// dry run with -S echo prints there), killed if the agent dies.
type Local struct {
	Config   Config
	launcher *sandbox.Launcher // nil without a sandbox
}

// NewLocal is the Local for cfg; with a sandbox, its handlers are forked
// from a thread of their own that carries it.
func NewLocal(cfg Config) *Local {
	l := &Local{Config: cfg}
	if !cfg.Identity.Sandbox.IsZero() {
		l.launcher = sandbox.NewLauncher(cfg.Identity.Sandbox)
	}
	return l
}

// Setup builds the sandbox now, while the privileges it needs are there.
func (l *Local) Setup() error {
	if l.launcher == nil {
		return nil
	}
	return l.launcher.Setup()
}

func (l *Local) Run(ctx context.Context, inv Invocation, env []string, stderr io.Writer) (Exit, error) {
	argv, err := Argv(l.Config, inv)
	if err != nil {
		return Exit{}, err
	}
	cmd := privsep.HandlerCommand(l.Config.Identity, argv)
	cmd.Dir = l.Config.WatchDir
	cmd.Stdout = os.Stdout
	cmd.Stderr = stderr
	cmd.Env = append(os.Environ(), env...)
	waited, err := privsep.Start(cmd, l.launcher)
	if err != nil {
		return Exit{}, fmt.Errorf("start sync handler %s: %w", argv[0], err)
	}
	select {
	case err = <-waited:
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-waited
		return Exit{}, fmt.Errorf("sync handler %s: killed: %w", argv[0], context.Cause(ctx))
	}
	if exitErr := (*exec.ExitError)(nil); err != nil && !errors.As(err, &exitErr) {
		return Exit{}, fmt.Errorf("sync handler %s: %w", argv[0], err)
	}
	return ExitOf(cmd.ProcessState), nil
}

// ExitOf is how the process behind ps ended.
func ExitOf(ps *os.ProcessState) Exit {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return Exit{Code: -1, Signal: int(ws.Signal())}
	}
	return Exit{Code: ps.ExitCode()}
}

// Runner runs a handler's invocations through its Process and judges the
// exit code.
type Runner struct {
	Process Process
	Program string // for messages: the handler's path
	// Ignore lists exit codes that count as success (-x, and 24 for rsync).
	Ignore map[int]bool
	// Env adds variables to the handler's environment (CLSYNC_STATUS, ...).
	Env func() []string
}

// Run runs inv with its stderr going to ours.
func (r *Runner) Run(ctx context.Context, inv Invocation) error {
	return r.RunTo(ctx, inv, os.Stderr)
}

// RunTo runs inv with its stderr going to stderr.
func (r *Runner) RunTo(ctx context.Context, inv Invocation, stderr io.Writer) error {
	var env []string
	if r.Env != nil {
		env = r.Env()
	}
	exit, err := r.Process.Run(ctx, inv, env, stderr)
	switch {
	case err != nil:
		return err
	case exit.Code < 0:
		return fmt.Errorf("sync handler %s: %s", r.Program, exit)
	case exit.Code == 0 || r.Ignore[exit.Code]:
		return nil
	}
	return &ExitError{Program: r.Program, Code: exit.Code}
}

// RunHook runs the exit or pre-exit hook (template "exit-hook" or
// "pre-exit-hook": "HOOK LABEL", in the watch dir) and waits for it. Its
// failure is logged, not fatal: the syncs it follows or precedes already
// happened or will.
func RunHook(ctx context.Context, p Process, log *slog.Logger, template string) {
	exit, err := p.Run(ctx, Invocation{Template: template}, nil, os.Stderr)
	if err == nil && exit.Code != 0 {
		err = errors.New(exit.String())
	}
	if err != nil {
		log.Error(template+" failed", "err", err)
	}
}

// IterationEnv is clsync's handler environment: CLSYNC_STATUS and
// CLSYNC_ITERATION.
func IterationEnv(status string, iteration int) []string {
	return []string{"CLSYNC_STATUS=" + status, "CLSYNC_ITERATION=" + strconv.Itoa(iteration)}
}
