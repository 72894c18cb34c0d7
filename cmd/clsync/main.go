// Command clsync keeps a destination equal to a watched directory tree, live.
// It is a command-line compatible successor of clsync 0.4.5. main reads the
// options, maps signals to the agent's methods and errors to exit codes;
// everything else lives in the packages it drives.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

	"github.com/clsync-go/clsync/agent"
	"github.com/clsync-go/clsync/api"
	"github.com/clsync-go/clsync/internal/cli"
	"github.com/clsync-go/clsync/internal/metrics"
	"github.com/clsync-go/clsync/internal/sdnotify"
	"github.com/clsync-go/clsync/privsep/split"
)

const version = "0.1.0"

// gcPercent keeps the heap small: the agent runs for months next to the
// services it mirrors, and its peak memory at startup (walking millions of
// directories) matters more than the little CPU a tighter GC costs. GOGC in
// the environment still wins.
const gcPercent = 30

// dumpSignal is clsync's signal 29: dump the instance's state to --dump-dir.
const dumpSignal = syscall.Signal(29)

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	argv, worker := os.Args[1:], false
	if len(argv) > 0 && argv[0] == split.WorkerCommand {
		argv, worker = argv[1:], true
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if len(argv) > 0 && argv[0] == cli.CtlCommand {
		os.Exit(ctl(ctx, argv[1:], os.Stdout, os.Stderr))
	}
	code, block := program(ctx, argv, worker, os.Stdout, os.Stderr)
	if block != "" {
		stop()
		// Our identity stays (same pid for the pid file and for systemd),
		// the new block's options take effect, and its initial sync
		// covers whatever changed in between.
		self, err := os.Executable()
		if err == nil {
			err = syscall.Exec(self, append([]string{os.Args[0]}, withBlock(os.Args[1:], block)...), os.Environ())
		}
		fmt.Fprintf(os.Stderr, "clsync: switch to config block %s: %s\n", block, err)
		os.Exit(exitCode(err))
	}
	os.Exit(code)
}

// blockPrefix is the option main adds to switch config blocks.
const blockPrefix = "--config-block="

// withBlock is argv choosing block: the option goes before the handler
// template's "--" (after it, it would be a template word), replacing the
// one an earlier switch put there, so that argv does not grow with every
// switch. The last --config-block wins, so the user's own -K loses to it.
func withBlock(argv []string, block string) []string {
	end := len(argv)
	for i, a := range argv {
		if a == "--" {
			end = i
			break
		}
	}
	at := end
	if at > 0 && strings.HasPrefix(argv[at-1], blockPrefix) {
		at--
	}
	out := append([]string{}, argv[:at]...)
	out = append(out, blockPrefix+block)
	return append(out, argv[end:]...)
}

// program is the whole program behind main, so that tests can run it in
// process. It returns the exit code and, when a --custom-signals signal
// asked for it, the config block to start again with.
func program(ctx context.Context, argv []string, worker bool, stdout, stderr io.Writer) (code int, block string) {
	block, err := runArgs(ctx, argv, worker, stdout, stderr)
	if err != nil && err.Error() != "" {
		fmt.Fprintf(stderr, "clsync: %s\n", oneLine(err.Error()))
	}
	return exitCode(err), block
}

// ctl is `clsync ctl`: a client of a running agent's control socket.
func ctl(ctx context.Context, argv []string, stdout, stderr io.Writer) int {
	cmd, err := cli.ParseCtl(argv)
	if err == nil && cmd.Help {
		cli.WriteCtlHelp(stdout)
		return 0
	}
	if err == nil {
		err = cmd.Run(ctx, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "clsync: %s\n", oneLine(err.Error()))
	}
	return exitCode(err)
}

// runArgs runs the command line argv; worker: as --splitting=process's
// unprivileged worker, whose helper started it.
func runArgs(ctx context.Context, argv []string, worker bool, stdout, stderr io.Writer) (string, error) {
	s, err := cli.Load(argv, os.Getenv("HOME"))
	if err != nil {
		return "", err
	}
	switch {
	case s.Help:
		cli.WriteHelp(stdout, version)
		return "", nil
	case s.Version:
		fmt.Fprintf(stdout, "clsync-go %s (command-line compatible with clsync 0.4.5)\n", version)
		return "", nil
	case s.CheckRulesSet:
		return "", cli.CheckRules(stdout, s)
	}
	if err := s.Validate(); err != nil {
		return "", err
	}
	if s.Background && !worker && os.Getenv(daemonEnv) == "" {
		return "", daemonize(argv, stderr)
	}
	log, closeLog, err := s.Logger(stderr)
	if err != nil {
		return "", err
	}
	defer closeLog()
	for _, notice := range s.Notices() {
		log.Warn(notice)
	}

	var notify func(string)
	if !worker {
		if notify, err = notifier(log); err != nil {
			return "", err
		}
	}
	// The control socket is made first: a bad path or a live agent on it
	// stops us before anything starts.
	var control net.Listener
	if s.Socket != "" && !worker {
		ln, err := api.Listen(s.ControlSocket())
		if err != nil {
			return "", err
		}
		defer ln.Close()
		control = ln
	}
	if s.Split() && !worker {
		// Every signal goes to the worker, which acts on it; we end
		// with it.
		fwd := make(chan os.Signal, 8)
		signal.Notify(fwd, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGHUP, dumpSignal)
		defer signal.Stop(fwd)
		hcfg := s.Helper(argv, withoutEnv(os.Environ(), daemonEnv, "NOTIFY_SOCKET"), daemonReady(), notify, log)
		if control != nil {
			// The worker serves it.
			if hcfg.Control, err = control.(*api.Listener).File(); err != nil {
				return "", fmt.Errorf("control socket: %w", err)
			}
			defer hcfg.Control.Close()
		}
		if s.MetricsListen != "" {
			// The worker has no network: we serve what it pushes.
			relay := &metrics.Relay{}
			if relay.Observe, err = metrics.Start(ctx, s.MetricsListen, relay.Stats); err != nil {
				return "", err
			}
			hcfg.Stats = relay.Receive
		}
		code, err := split.Serve(ctx, hcfg, fwd)
		if err == nil && code != 0 {
			err = &exitStatus{code: code}
		}
		return "", err
	}
	cfg := s.Agent(log, daemonReady())
	cfg.Notify, cfg.WatchdogEvery = notify, sdnotify.WatchdogInterval(os.Getpid())
	cfg.Progress = s.TerminalProgress(stderr)
	var a *agent.Agent
	stats := func() agent.Stats { return a.Stats() }
	if worker {
		w, err := split.Connect()
		if err != nil {
			return "", err
		}
		cfg = s.Worker(w, log)
		cfg.Progress = s.TerminalProgress(stderr)
		if s.Socket != "" {
			if control, err = w.ControlListener(); err != nil {
				return "", err
			}
			defer control.Close()
		}
		if s.MetricsListen != "" {
			cfg.ObserveSync = metrics.Push(ctx, stats, w.PushStats)
		}
		if err := split.Confine(s.Confinement(), log); err != nil {
			return "", err
		}
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGQUIT, syscall.SIGUSR2, syscall.SIGHUP, dumpSignal)
	for sig := range s.CustomSignals {
		signal.Notify(sigs, syscall.Signal(sig))
	}
	defer signal.Stop(sigs)

	if s.MetricsListen != "" && !worker {
		if cfg.ObserveSync, err = metrics.Start(ctx, s.MetricsListen, stats); err != nil {
			return "", err
		}
	}
	a = agent.New(cfg)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	if control != nil {
		served := make(chan error, 1)
		ctlCtx, stopControl := context.WithCancel(ctx)
		go func() { served <- api.Serve(ctlCtx, control, s.Control(a, version, log)) }()
		defer func() {
			stopControl()
			if err := <-served; err != nil {
				log.Error("control socket", "err", err)
			}
		}()
	}
	block := ""
	for {
		select {
		case err := <-done:
			if errors.Is(err, agent.ErrDrained) {
				return block, nil
			}
			return "", err
		case sig := <-sigs:
			if b, ok := s.CustomSignals[int(sig.(syscall.Signal))]; ok {
				// --custom-signals: sync what changed, then start again
				// with that config block.
				log.Info("switching config block", "signal", int(sig.(syscall.Signal)), "block", b)
				block = b
				a.Drain()
				continue
			}
			switch sig {
			case syscall.SIGUSR2:
				a.Rescan()
			case syscall.SIGHUP:
				a.ReloadRules()
			case dumpSignal:
				if err := a.Dump(s.DumpDir); err != nil {
					log.Error("dump (signal 29)", "err", err)
				}
			case syscall.SIGQUIT:
				a.Quit()
			}
		}
	}
}

// notifier sends systemd's notifications when it asked for them
// (NOTIFY_SOCKET), nil otherwise; a worker has its helper send them.
func notifier(log *slog.Logger) (func(string), error) {
	n, err := sdnotify.FromEnv()
	if n == nil || err != nil {
		return nil, err
	}
	return func(state string) {
		if err := n.Notify(state); err != nil {
			log.Warn("systemd notification", "err", err)
		}
	}, nil
}

// withoutEnv is env without the variables names.
func withoutEnv(env []string, names ...string) []string {
	out := env[:0:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, name) {
			out = append(out, kv)
		}
	}
	return out
}

// oneLine keeps an error on one line of the log, whatever a path contains.
func oneLine(s string) string {
	return strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(s)
}
