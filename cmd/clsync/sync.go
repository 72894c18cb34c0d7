package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/clsync-go/clsync/aggregator"
	"github.com/clsync-go/clsync/event"
	"github.com/clsync-go/clsync/handlers"
	"github.com/clsync-go/clsync/privsep"
	"github.com/clsync-go/clsync/rules"
	"github.com/clsync-go/clsync/watcher"
)

// liveRules lets SIGHUP swap the rules under the running watcher and handler.
type liveRules struct{ p atomic.Pointer[rules.Set] }

func (l *liveRules) Sync(rel string, isDir bool) bool { return l.p.Load().Sync(rel, isDir) }
func (l *liveRules) Walk(rel string) bool             { return l.p.Load().Walk(rel) }
func (l *liveRules) Monitor(rel string) bool          { return l.p.Load().Monitor(rel) }

// syncRun is the state of one run of the agent: what the handler's
// environment reports, the iteration count, and why the run must stop.
type syncRun struct {
	s       *settings
	log     *slog.Logger
	handler handlers.Handler
	root    rootIdentity

	status    *statusFile
	iteration atomic.Int64 // successful handler runs, the initial sync included
	failures  atomic.Int64 // consecutive failed syncs, for the backoff
	// events counts the kernel events read: a sync that failed while it
	// grew failed on a tree that changed under it.
	events atomic.Int64
	// initialPending: the initial sync has not completed; the batch that
	// carries the root rescan is it. initialDone
	// is closed when that sync succeeded.
	initialPending atomic.Bool
	initialDone    chan struct{}

	// busy is held while a sync runs, so SIGQUIT can wait for it.
	busy sync.RWMutex
	// fatal stops the run: set once, then stop is called.
	fatal    error
	fatalMu  sync.Mutex
	stop     context.CancelFunc
	quitting atomic.Bool
	// modsig drops events whose stat signature did not change (nil: off).
	modsig *modSignature
	// preExitDone: the pre-exit hook ran (it runs once, under busy).
	preExitDone bool
}

// rootIdentity pins the watch dir: a sync never runs on another directory
// that took its place (or on an empty mount point left by an unmount), which
// would mirror an empty tree over the destination.
type rootIdentity struct {
	path     string
	dev, ino uint64
}

func pinRoot(path string) (rootIdentity, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return rootIdentity{}, fmt.Errorf("watch dir %s: %w", path, err)
	}
	return rootIdentity{path: path, dev: uint64(st.Dev), ino: uint64(st.Ino)}, nil
}

func (r rootIdentity) check() error {
	now, err := pinRoot(r.path)
	if err != nil {
		return fmt.Errorf("watch dir %s vanished; not syncing: %w", r.path, err)
	}
	if now.dev != r.dev || now.ino != r.ino {
		return fmt.Errorf("watch dir %s was replaced or unmounted; not syncing", r.path)
	}
	return nil
}

// runSync is the main job: watch the tree, sync it once, then keep syncing
// what changes until a signal, an error or an exit condition ends it.
func runSync(ctx context.Context, s *settings, stderr io.Writer) error {
	ready := daemonReady()
	logger, closeLog, err := newLogger(s, stderr)
	if err != nil {
		return err
	}
	defer closeLog()

	rs := &liveRules{}
	if s.RulesFile != "" {
		set, err := rules.Load(s.RulesFile)
		if err != nil {
			return err
		}
		rs.p.Store(set)
	}
	root, err := pinRoot(s.WatchDir)
	if err != nil {
		return err
	}
	r := &syncRun{s: s, log: logger, root: root, initialDone: make(chan struct{}),
		status: &statusFile{path: s.StatusFile, log: logger}, modsig: newModSignature(s.WatchDir, s.ModSignature)}
	r.status.set("starting")
	defer r.status.remove()
	removePid, err := writePidFile(s.PidFile)
	if err != nil {
		return err
	}
	defer removePid()

	var exclude []string
	if s.ExcludeMounts {
		if exclude, err = mountPointsBelow(s.WatchDir); err != nil {
			return err
		}
	}
	var filter handlers.Filter
	if s.RulesFile != "" {
		filter = rs
	}
	h, err := handlers.New(handlers.Config{
		Mode: s.Mode, Program: s.Handler, Template: s.Template, InitTemplate: s.InitTemplate,
		WatchDir: s.WatchDir, Destination: s.Destination, Label: s.Label,
		ListsDir: s.ListsDir, KeepLists: s.DontUnlinkLists, IncLimit: s.RsyncIncLimit,
		PreferInclude: s.RsyncPreferInclude, Ignore: s.IgnoreExitCodes, Timeout: s.SyncTimeout,
		Filter: filter, FullInitialSync: s.FullInitialSync, Exclude: exclude, Env: r.env, Logger: logger,
		HaveRecursiveSync: s.HaveRecursiveSync, SynclistSimplify: s.SynclistSimplify,
		Option: func(name string) (string, bool) { v, ok := s.values[name]; return v, ok },
		Identity: privsep.Identity{
			UID: uint32(s.HandlerUID.ID), SetUID: s.HandlerUID.Set,
			GID: uint32(s.HandlerGID.ID), SetGID: s.HandlerGID.Set,
		},
	})
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return err
		}
		return &invalidError{msg: err.Error()}
	}
	defer h.Close()
	r.handler = h

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	r.stop = stop

	// Watches go in before the initial sync, so that nothing changed
	// during it is missed: such changes are queued and synced after it.
	var monitor func(string) bool
	if s.RulesFile != "" {
		monitor = rs.Monitor
	}
	w, err := watcher.New(runCtx, watcher.Options{
		Root: s.WatchDir, Monitor: monitor, Logger: logger,
		OneFileSystem: s.OneFileSystem || s.ExcludeMounts,
	})
	if err != nil {
		return err
	}
	defer w.Close()
	ready()

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGQUIT, syscall.SIGUSR2, syscall.SIGHUP, dumpSignal)
	for sig := range s.CustomSignals {
		signal.Notify(sigs, syscall.Signal(sig))
	}
	defer signal.Stop(sigs)

	agg := aggregator.New(aggregator.Config{
		CollectDelay: s.CollectDelay, BigFileDelay: s.BigFileDelay, SyncDelay: s.SyncDelay,
		BigFileThreshold: bigFileThreshold(s), Stat: statSize(s.WatchDir),
		// --threading=full would let two rsyncs work on one path at once;
		// measured, that leaves stale modes and fails rsync with 23 on the
		// destination, so full runs as safe does: in parallel, one sync per
		// path at a time.
		Parallel: parallelSyncs(s.Threading), Safe: s.Threading != "off",
	}, r.syncBatch)

	// The watcher's channel goes through a relay so that its end (a root
	// that vanished, a watch limit) is noticed here, not only by the loop,
	// and so that the events count tells a failed sync that the tree moved
	// under it.
	events := make(chan []event.Event, 64)
	watcherDone := make(chan struct{})
	go func() {
		defer close(watcherDone)
		debug := logger.Enabled(runCtx, slog.LevelDebug)
		for evs := range w.Events() {
			r.events.Add(int64(len(evs)))
			if debug {
				for _, ev := range evs {
					logger.Debug("event", "path", ev.Path, "op", ev.Op.String(), "dir", ev.IsDir)
				}
			}
			select {
			case events <- evs:
			case <-runCtx.Done():
				return
			}
		}
	}()
	aggDone := make(chan error, 1)
	go func() { aggDone <- agg.Run(runCtx, events) }()

	// The initial sync is the first batch: a rescan of the root, which
	// absorbs whatever changes meanwhile; events keep being read during it
	// (a long initial sync must not overflow the kernel queue).
	if s.SkipInitialSync {
		r.status.set("running")
		close(r.initialDone)
	} else {
		r.status.set("initsync")
		r.initialPending.Store(true)
		if err := agg.Rescan(runCtx); err != nil {
			return r.result(ctx, err)
		}
	}

	var idleCheck <-chan time.Time
	idleEvents := int64(-1)
	initialDone := r.initialDone
	for {
		select {
		case <-initialDone:
			initialDone = nil
			if s.OnlyInitialSync {
				stop()
				continue
			}
			if s.ExitOnNoEvents {
				t := time.NewTicker(50 * time.Millisecond)
				defer t.Stop()
				idleCheck = t.C
			}
		case <-runCtx.Done():
			<-aggDone
			r.status.set("exiting")
			select {
			case <-r.initialDone:
				// The run may end on a signal: the hook gets a context of
				// its own, as clsync runs it whatever ended the run.
				runHook(context.WithoutCancel(ctx), logger, "exit hook", s.ExitHook, s.Label, s.WatchDir)
			default:
				// clsync skips the exit hook when the initial sync did not complete.
			}
			return r.result(ctx, nil)
		case <-watcherDone:
			watcherDone = nil
			if err := w.Err(); err != nil {
				r.fail(err)
			}
		case <-idleCheck:
			// Idle means: nothing queued or running at two checks in a row
			// with no event read in between, so that changes the kernel
			// queued just now are not left behind.
			seen := r.events.Load()
			n, err := agg.Flush(runCtx)
			if err != nil || n != 0 || seen != idleEvents {
				idleEvents = seen
				continue
			}
			if s.PreExitHook != "" && r.lockedPreExit(runCtx) {
				// The hook may change the tree: sync that before exiting.
				continue
			}
			stop()
		case sig := <-sigs:
			if block, ok := s.CustomSignals[int(sig.(syscall.Signal))]; ok {
				// --custom-signals: sync what is queued, then start again
				// with that config block (see reexecError).
				logger.Info("switching config block", "signal", int(sig.(syscall.Signal)), "block", block)
				_, _ = agg.Flush(runCtx)
				r.quitting.Store(true)
				r.busy.Lock()
				stop()
				r.busy.Unlock()
				<-aggDone
				return &reexecError{block: block}
			}
			switch sig {
			case syscall.SIGUSR2:
				logger.Info("full resync requested (SIGUSR2)")
				_ = agg.Rescan(runCtx)
			case syscall.SIGHUP:
				r.reloadRules(rs)
			case dumpSignal:
				if err := r.dump(s.DumpDir, w.Watches()); err != nil {
					logger.Error("dump (signal 29)", "err", err)
				}
			case syscall.SIGQUIT:
				r.lockedPreExit(runCtx)
				if s.SyncOnQuit {
					_, _ = agg.Flush(runCtx)
				}
				// Wait for the sync that is running, start no other.
				r.quitting.Store(true)
				r.busy.Lock()
				stop()
				r.busy.Unlock()
			}
		}
	}
}

// result is the run's exit error: the fatal error if one stopped it,
// nothing if a signal (SIGTERM, SIGINT) or an exit condition did.
func (r *syncRun) result(ctx context.Context, err error) error {
	r.fatalMu.Lock()
	defer r.fatalMu.Unlock()
	if r.fatal != nil {
		return r.fatal
	}
	if err != nil && ctx.Err() == nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func (r *syncRun) fail(err error) {
	r.fatalMu.Lock()
	if r.fatal == nil {
		r.fatal = err
	}
	r.fatalMu.Unlock()
	r.stop()
}

// env is clsync's handler environment. CLSYNC_ITERATION counts the syncs
// done after the initial one.
func (r *syncRun) env() []string {
	done := r.iteration.Load()
	if !r.s.SkipInitialSync && done > 0 {
		done--
	}
	return handlers.IterationEnv(r.status.get(), int(done))
}

func (r *syncRun) iterationsDone() bool {
	// --max-iterations counts handler runs, the initial sync included.
	return r.s.MaxIterations > 0 && r.iteration.Load() >= int64(r.s.MaxIterations)
}

var errQuitting = errors.New("quitting")

// rootRescan tells whether a batch syncs the whole tree. Items are sorted,
// so the root comes first.
func rootRescan(items []event.Event) bool {
	return len(items) > 0 && items[0].Path == "" && items[0].Op&event.Rescan != 0
}

// syncBatch runs the handler for one batch with clsync's tries (-r; 0 =
// until it works) and -w between tries. A batch that still fails either
// stops the run (clsync's default) or, with --ignore-failures, goes back to
// the queue: it is retried later, never forgotten. A failure while events
// arrived is not counted: rsync met the tree changing under it (a file
// turned into a symlink between listing and opening, say), and the events
// that changed it are queued; the batch goes back to the queue as well.
func (r *syncRun) syncBatch(ctx context.Context, b aggregator.Batch) error {
	r.busy.RLock()
	defer r.busy.RUnlock()
	if r.quitting.Load() {
		return errQuitting
	}
	// The initial sync is the batch with the root rescan, not merely the
	// first batch: events read before the rescan was queued may make an
	// ordinary batch come first. Two root batches never run at once (one
	// sync at a time, or --threading's path locks).
	initial := r.initialPending.Load() && rootRescan(b.Items)
	items := b.Items
	if !initial {
		if items = r.modsig.filter(items); len(items) == 0 {
			return nil
		}
	}
	phase := "running"
	if initial {
		phase = "initsync"
	}
	onHold := func(held bool) {
		if held {
			r.status.set("hold on")
		} else {
			r.status.set(phase)
		}
	}
	if !waitStandby(ctx, r.s.StandbyFile, onHold) {
		return ctx.Err()
	}
	if r.s.MaxIterations > 1 && r.iteration.Load() == int64(r.s.MaxIterations-1) {
		r.preExit(ctx)
	}
	var err error
	for try := 1; ; try++ {
		if err = r.root.check(); err != nil {
			r.fail(err)
			return err
		}
		seen := r.events.Load()
		r.log.Debug("sync", "queue", b.Queue.String(), "items", len(items), "initial", initial, "try", try)
		err = r.handler.Sync(ctx, items, initial)
		if err == nil || ctx.Err() != nil {
			break
		}
		if r.treeChangedSince(ctx, seen) {
			r.log.Warn("sync failed while the tree was changing; retrying", "err", err)
			sleepCtx(ctx, transientRetryDelay)
			return err
		}
		r.log.Error("sync failed", "err", err, "try", try)
		r.status.set("synchandler error")
		if r.s.Retries != 0 && try >= r.s.Retries {
			break
		}
		if !sleepCtx(ctx, r.s.SyncDelay) {
			break
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	r.iteration.Add(1)
	if err == nil {
		r.failures.Store(0)
		r.modsig.record(items)
		r.status.set("running")
		if initial {
			r.initialPending.Store(false)
			close(r.initialDone)
		}
		if r.iterationsDone() {
			r.stop()
		}
		return nil
	}
	if !r.s.IgnoreFailures {
		code := 1
		var exit *handlers.ExitError
		if errors.As(err, &exit) {
			code = exit.Code
		}
		r.fail(&handlerExitError{err: fmt.Errorf("sync failed, giving up (--retries %d): %w", r.s.Retries, err), code: code})
		return err
	}
	// Back off so a destination that is down is not hammered at -w0.
	sleepCtx(ctx, backoff(int(r.failures.Add(1))))
	return err
}

// lockedPreExit runs the pre-exit hook between syncs; it tells whether the
// hook ran now.
func (r *syncRun) lockedPreExit(ctx context.Context) bool {
	r.busy.Lock()
	defer r.busy.Unlock()
	return r.preExit(ctx)
}

// preExit runs --pre-exit-hook once, before the last sync; it tells
// whether the hook ran now.
func (r *syncRun) preExit(ctx context.Context) bool {
	if r.s.PreExitHook == "" || r.preExitDone {
		return false
	}
	r.preExitDone = true
	r.status.set("preexit")
	runHook(ctx, r.log, "pre-exit hook", r.s.PreExitHook, r.s.Label, r.s.WatchDir)
	return true
}

// eventSettle bounds how long a failed sync waits for events that the
// kernel queued before the handler exited but the watcher has not handed on
// yet (an unpaired rename waits for its partner up to 50 ms).
const eventSettle = 100 * time.Millisecond

// treeChangedSince tells whether events arrived since the count was seen,
// waiting up to eventSettle for late ones.
func (r *syncRun) treeChangedSince(ctx context.Context, seen int64) bool {
	deadline := time.Now().Add(eventSettle)
	for r.events.Load() == seen {
		if time.Now().After(deadline) || !sleepCtx(ctx, 5*time.Millisecond) {
			return false
		}
	}
	return true
}

// transientRetryDelay spaces retries of syncs that failed on a changing
// tree: the storm usually needs only a moment to settle.
const transientRetryDelay = 20 * time.Millisecond

func backoff(failures int) time.Duration {
	d := 100 * time.Millisecond << min(failures, 9)
	return min(d, 30*time.Second)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// reloadRules re-reads -R on SIGHUP. Bad rules keep the old ones: a typo
// must not stop a running mirror.
func (r *syncRun) reloadRules(rs *liveRules) {
	if r.s.RulesFile == "" {
		return
	}
	set, err := rules.Load(r.s.RulesFile)
	if err != nil {
		r.log.Error("reload rules (SIGHUP): keeping the old rules", "err", err)
		return
	}
	rs.p.Store(set)
	r.log.Info("rules reloaded", "file", r.s.RulesFile, "rules", set.Len())
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
//
// When both queues have the same delay the queue makes no difference, and
// the lstat per event is skipped as well.
func bigFileThreshold(s *settings) int64 {
	if slices.Contains(s.CancelSyscalls, "mon_stat") || s.CollectDelay == s.BigFileDelay {
		return 0
	}
	return s.BigFileThreshold
}

// statSize gives the aggregator lstat sizes for the big-file queue (-B).
func statSize(root string) func(string) (int64, bool) {
	return func(rel string) (int64, bool) {
		var st syscall.Stat_t
		if err := syscall.Lstat(root+"/"+rel, &st); err != nil {
			return 0, false
		}
		return st.Size, true
	}
}

// checkImplemented refuses options whose runtime behaviour this version does
// not have yet, rather than silently running without it.
func checkImplemented(s *settings) error {
	unsupported := []struct {
		set  bool
		name string
	}{
		{s.Socket != "", "--socket"},
		{s.Splitting != "off", "--splitting"},
		// Dropping to the identity we already have is a no-op (the chown
		// example passes --uid 0 --gid 0 and runs as root).
		{s.UID.Set && s.UID.ID != os.Getuid() || s.GID.Set && s.GID.ID != os.Getgid(), "--uid/--gid (to another user)"},
		{s.Chroot != "", "--chroot"},
		{s.SeccompFilter, "--seccomp-filter"},
		{len(s.Mountpoints) > 0, "--mountpoints"},
	}
	for _, u := range unsupported {
		if u.set {
			return usageErrorf("%s is not available in clsync-go %s yet", u.name, version)
		}
	}
	return nil
}
