// Package agent is clsync-go's run loop: it wires the watcher, the
// aggregator, the dispatch policy and a sync handler, and keeps the
// destination equal to the watched tree until a signal, an error or an exit
// condition ends the run. The program's main drives it through its methods.
package agent

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clsync-go/clsync/aggregator"
	"github.com/clsync-go/clsync/dispatch"
	"github.com/clsync-go/clsync/handlers"
	"github.com/clsync-go/clsync/internal/beneath"
	"github.com/clsync-go/clsync/internal/lifecycle"
	"github.com/clsync-go/clsync/internal/mounts"
	"github.com/clsync-go/clsync/rules"
	"github.com/clsync-go/clsync/watcher"
)

// Config is everything a run needs, validated by the caller.
type Config struct {
	// WatchDir is the absolute, resolved watch dir (-W).
	WatchDir string
	// Label, Mode and Destination are reported by Dump.
	Label, Mode, Destination string

	// Rules (-R) decide what is watched and synced; nil allows everything.
	// RulesFile is re-read by ReloadRules.
	Rules     *rules.Set
	RulesFile string

	// Handler configures the sync handler; the agent sets its Filter, Env,
	// Exclude and Logger.
	Handler handlers.Config
	// Aggregator sets the delays and bounds; the agent sets its Stat.
	Aggregator aggregator.Config

	Retries        int           // -r
	IgnoreFailures bool          // --ignore-failures
	SyncTimeout    time.Duration // -k
	StandbyFile    string        // --standby-file
	ModSignature   []string      // --modification-signature
	MaxIterations  int           // --max-iterations

	SkipInitialSync bool // --skip-initialsync
	OnlyInitialSync bool // --only-initialsync
	ExitOnNoEvents  bool // --exit-on-no-events
	SyncOnQuit      bool // --sync-on-quit
	OneFileSystem   bool // --one-file-system
	ExcludeMounts   bool // -X
	// Monitor is the kernel interface the watcher uses (--monitor).
	Monitor watcher.Backend

	StatusFile, PidFile string // --status-file, -z
	// PublishStatus, when set, publishes the status word instead of the
	// agent writing StatusFile (a privileged helper writes it).
	PublishStatus func(word string) error
	// Kernel, when set, owns the inotify instance (see watcher.Kernel).
	Kernel watcher.Kernel

	// Ready is called once the watches are in place.
	Ready func()
	// Notify, when set, gets systemd's notifications (sd_notify(3)):
	// READY=1 once the initial sync made the destination equal to the
	// source, STATUS= at each change of the status word, WATCHDOG=1 every
	// WatchdogEvery from the run loop (a hung loop stops them), and
	// STOPPING=1.
	Notify        func(state string)
	WatchdogEvery time.Duration
	// WriteDump, when set, writes the dump of signal 29 instead of the
	// agent (a privileged helper does, where the worker may not write).
	WriteDump func(dir string, facts map[string]string) error
	// ObserveSync, when set, gets each sync's duration and result
	// (metrics).
	ObserveSync func(took time.Duration, err error)
	// Progress, when set, gets the initial walk's progress, at most once a
	// second and once when it is done, instead of the log (one updating
	// line on a terminal).
	Progress func(WalkProgress)
	// WatchLimit is how many kernel watches this user may hold (-1:
	// unknown), for Stats.
	WatchLimit int
	Logger     *slog.Logger
}

// WalkProgress is how far the initial walk got.
type WalkProgress struct {
	Directories int
	Took        time.Duration
	Done        bool
}

// ErrDrained is Run's result after Drain: everything queued was synced and
// the run stopped, without the exit hooks, so that the caller can start
// again with other options.
var ErrDrained = errors.New("agent: drained")

// ErrPaused is Flush's and WaitIdle's error while Pause holds syncing and
// something waits: neither could end before Resume.
var ErrPaused = errors.New("syncing is paused")

// ErrNotRunning is the error of a request made after the run stopped.
var ErrNotRunning = errors.New("agent: not running")

// Agent runs one mirror. Its methods may be called from any goroutine: what
// they ask is served once Run's loop runs (after the initial walk), and
// after Run returns they do nothing.
type Agent struct {
	cfg   Config
	reqs  chan request
	done  chan struct{}
	stats stats
	hold  dispatch.Hold
	// stopping is closed by Stop.
	stopping chan struct{}
	stopOnce sync.Once
	// rescanAsked is set while a Rescan waits to be served.
	rescanAsked atomic.Bool
}

type request struct {
	kind  requestKind
	dir   string          // for dump
	ctx   context.Context // for flush and wait-idle
	reply chan result     // for dump, flush and wait-idle
}

type result struct {
	n   int
	err error
}

type requestKind uint8

const (
	reqRescan requestKind = iota
	reqReload
	reqQuit
	reqDrain
	reqDump
	reqFlush
	reqWaitIdle
)

// New returns an agent for cfg.
func New(cfg Config) *Agent {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// Buffered: a signal during the initial walk must not block main.
	return &Agent{cfg: cfg, reqs: make(chan request, 8), done: make(chan struct{}), stopping: make(chan struct{})}
}

// Stop ends the run at once, as the end of Run's context does (SIGTERM).
func (a *Agent) Stop() { a.stopOnce.Do(func() { close(a.stopping) }) }

// Pause holds syncing: the running sync ends, no other starts, changes
// keep being collected (clsync ctl pause; like --standby-file).
func (a *Agent) Pause() { a.hold.Put() }

// Resume lets syncing go on after Pause.
func (a *Agent) Resume() { a.hold.Lift() }

// Flush syncs now every change made before the call, whatever the delays
// say, and returns how many paths that took (clsync ctl flush).
func (a *Agent) Flush(ctx context.Context) (int, error) {
	return a.ask(ctx, request{kind: reqFlush})
}

// WaitIdle returns once every change made before the call is synced and
// nothing is queued or running: the quiescence barrier a deploy script
// waits on (clsync ctl wait-idle).
func (a *Agent) WaitIdle(ctx context.Context) error {
	_, err := a.ask(ctx, request{kind: reqWaitIdle})
	return err
}

// Rescan queues a full resync (SIGUSR2). Requests made before the run
// serves one are one resync: a flood of them never fills the queue of
// requests.
func (a *Agent) Rescan() {
	if a.rescanAsked.CompareAndSwap(false, true) {
		a.send(request{kind: reqRescan})
	}
}

// ReloadRules re-reads the rules file (SIGHUP). Bad rules keep the old
// ones: a typo must not stop a running mirror.
func (a *Agent) ReloadRules() { a.send(request{kind: reqReload}) }

// Quit ends the run gently (SIGQUIT): the pre-exit hook runs, with
// --sync-on-quit everything changed so far is synced, then the running
// sync ends and no other starts.
func (a *Agent) Quit() { a.send(request{kind: reqQuit}) }

// Drain syncs everything changed so far, then stops the run without the
// exit hooks; Run returns ErrDrained (--custom-signals).
func (a *Agent) Drain() { a.send(request{kind: reqDrain}) }

// Dump writes the agent's state into dir (signal 29).
func (a *Agent) Dump(dir string) error {
	_, err := a.ask(context.Background(), request{kind: reqDump, dir: dir})
	return err
}

func (a *Agent) send(r request) bool {
	select {
	case a.reqs <- r:
		return true
	case <-a.done:
		return false
	}
}

// ask sends r and waits for its answer, the end of ctx or of the run.
func (a *Agent) ask(ctx context.Context, r request) (int, error) {
	r.ctx, r.reply = ctx, make(chan result, 1)
	select {
	case a.reqs <- r:
	case <-a.done:
		return 0, ErrNotRunning
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	select {
	case res := <-r.reply:
		return res.n, res.err
	case <-a.done:
		return 0, ErrNotRunning
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// run is the state of one Run.
type run struct {
	cfg    Config
	log    *slog.Logger
	rules  *liveRules
	status *lifecycle.Status
	// hooksOnce makes hooksProcess, which runs the exit hooks.
	hooksOnce    sync.Once
	hooksProcess handlers.Process
	w            *watcher.Watcher
	agg          *aggregator.Aggregator
	gate         *dispatch.Gate
	progress     *dispatch.Progress
	stop         context.CancelFunc
	ctx          context.Context // the run's: ends when the run stops

	syncs       atomic.Int64 // handler runs ended, failed or not
	stats       *stats
	hold        *dispatch.Hold
	rescanAsked *atomic.Bool

	mu      sync.Mutex
	fatal   error
	drained bool

	// preExitMu serialises the pre-exit hook, which runs once.
	preExitMu   sync.Mutex
	preExitDone bool
}

// Run is the main job: watch the tree, sync it once, then keep syncing what
// changes until ctx ends (SIGTERM, SIGINT: at once, killing the handler), a
// method, an error or an exit condition ends it. It returns the error that
// stopped the run, nil if none did, or ErrDrained.
func (a *Agent) Run(ctx context.Context) error {
	defer close(a.done)
	cfg := a.cfg
	log := cfg.Logger
	r := &run{cfg: cfg, log: log, rules: &liveRules{}, stats: &a.stats, hold: &a.hold, rescanAsked: &a.rescanAsked, status: &lifecycle.Status{Path: cfg.StatusFile, Publish: cfg.PublishStatus, Log: log}}
	a.stats.status.Store(r.status)
	r.rules.p.Store(cfg.Rules)
	notify := func(string) {}
	if cfg.Notify != nil {
		notify = cfg.Notify
	}
	r.status.Changed = func(word string) { notify("STATUS=" + word) }
	r.status.Set("starting")
	defer r.status.Remove()
	removePid, err := lifecycle.WritePidFile(cfg.PidFile)
	if err != nil {
		return err
	}
	defer removePid()

	h, err := r.newHandler()
	if err != nil {
		return err
	}
	defer h.Close()

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	r.ctx, r.stop = runCtx, stop
	go func() {
		select {
		case <-a.stopping:
			stop()
		case <-runCtx.Done():
		}
	}()
	// Watches go in before the initial sync, so that nothing changed
	// during it is missed: such changes are queued and synced after it.
	wopts := watcher.Options{Root: cfg.WatchDir, Logger: log, OneFileSystem: cfg.OneFileSystem || cfg.ExcludeMounts, Kernel: cfg.Kernel, Backend: cfg.Monitor}
	walkStart := time.Now()
	a.stats.started.Store(walkStart.UnixNano())
	wopts.Progress = func(watched int) {
		a.stats.walked.Store(int64(watched))
		took := time.Since(walkStart)
		if cfg.Progress != nil {
			cfg.Progress(WalkProgress{Directories: watched, Took: took})
			return
		}
		log.Info("initial sync: watching the tree", "directories", watched, "per_second", int(float64(watched)/took.Seconds()), "took", took.Round(time.Second))
	}
	if cfg.Rules != nil {
		wopts.Walk, wopts.Monitor = r.rules.Walk, r.rules.Monitor
	}
	r.w, err = watcher.New(runCtx, wopts)
	if err != nil {
		return err
	}
	a.stats.watcher.Store(r.w)
	walkTook := max(time.Since(walkStart), 1)
	a.stats.walked.Store(int64(r.w.Watches()))
	a.stats.walkTook.Store(int64(walkTook))
	if cfg.Progress != nil {
		cfg.Progress(WalkProgress{Directories: r.w.Watches(), Took: walkTook, Done: true})
	}
	log.Info("initial sync: tree watched", "directories", r.w.Watches(), "monitor", r.w.Backend(), "took", walkTook.Round(time.Millisecond))
	defer r.w.Close()
	if cfg.Ready != nil {
		cfg.Ready()
	}

	r.gate = r.dispatcher(h)
	iteration := r.progress.Iteration
	a.stats.iteration.Store(&iteration)
	aggCfg := cfg.Aggregator
	aggCfg.Stat, aggCfg.Logger, aggCfg.Received = statSize(cfg.WatchDir), log, a.stats.received
	r.agg = aggregator.New(aggCfg, r.sync)
	a.stats.aggregator.Store(r.agg)
	aggDone := make(chan error, 1)
	go func() { aggDone <- r.agg.Run(runCtx, r.w.Events()) }()

	// The initial sync is a rescan of the root, which absorbs whatever
	// changes meanwhile; events keep being read during it (a long initial
	// sync must not overflow the kernel queue).
	if cfg.SkipInitialSync {
		r.status.Set("running")
	} else {
		r.status.Set("initsync")
		if err := r.agg.Rescan(runCtx); err != nil {
			<-aggDone
			return r.result()
		}
	}

	initialDone := r.progress.InitialDone()
	watcherDone := r.w.Done()
	var watchdog <-chan time.Time
	if cfg.WatchdogEvery > 0 {
		// In the loop, not a goroutine of its own: a loop that hangs
		// stops the pings, and systemd restarts the agent.
		t := time.NewTicker(cfg.WatchdogEvery)
		defer t.Stop()
		watchdog = t.C
		notify("WATCHDOG=1")
	}
	for {
		select {
		case <-watchdog:
			notify("WATCHDOG=1")
		case <-initialDone:
			initialDone = nil
			took := time.Since(walkStart)
			a.stats.initialTook.Store(int64(took))
			a.stats.initialDone.Store(true)
			log.Info("initial sync: done", "took", took.Round(time.Millisecond))
			notify("READY=1\nSTATUS=" + r.status.Get() + ", initial sync done")
			switch {
			case cfg.OnlyInitialSync:
				stop()
			case cfg.ExitOnNoEvents:
				go r.exitWhenQuiet()
			}
		case <-watcherDone:
			watcherDone = nil
			if err := r.w.Err(); err != nil {
				r.fail(err)
			}
		case req := <-a.reqs:
			r.serve(req)
		case <-runCtx.Done():
			notify("STOPPING=1")
			<-aggDone
			r.status.Set("exiting")
			if r.initialDone() && !r.wasDrained() {
				// The run may end on a signal: the hook gets a context of
				// its own, as clsync runs it whatever ended the run.
				// clsync skips it when the initial sync did not complete.
				if cfg.Handler.ExitHook != "" {
					handlers.RunHook(context.WithoutCancel(ctx), r.hooks(), log, "exit-hook")
				}
			}
			return r.result()
		}
	}
}

// newHandler makes the sync handler with the agent's parts.
func (r *run) newHandler() (handlers.Handler, error) {
	hcfg := r.cfg.Handler
	if r.cfg.ExcludeMounts {
		var err error
		if hcfg.Exclude, err = mounts.Below(r.cfg.WatchDir); err != nil {
			return nil, err
		}
	}
	if r.cfg.Rules != nil {
		hcfg.Filter = r.rules
	}
	hcfg.Env = func() []string { return handlers.IterationEnv(r.status.Get(), r.progress.Iteration()) }
	hcfg.Logger = r.log
	return handlers.New(hcfg)
}

// dispatcher composes the dispatch policy around the handler h.
func (r *run) dispatcher(h handlers.Handler) *dispatch.Gate {
	cfg := r.cfg
	stopping := make(chan struct{})
	var d dispatch.Handler = h
	d = dispatch.Timeout(d, cfg.SyncTimeout)
	d = dispatch.RootGuard(d, r.w.Root().Check)
	d = dispatch.Retry(d, dispatch.RetryConfig{Tries: cfg.Retries, IgnoreFailures: cfg.IgnoreFailures,
		MinDelay: cfg.Aggregator.SyncDelay, Stopping: stopping, Status: r.status, Logger: r.log})
	d = dispatch.Standby(d, cfg.StandbyFile, r.hold, r.status, stopping)
	d = dispatch.Signature(d, cfg.WatchDir, cfg.ModSignature)
	r.progress = dispatch.NewProgress(d, dispatch.ProgressConfig{SkipInitial: cfg.SkipInitialSync,
		MaxIterations: cfg.MaxIterations, BeforeLast: func(ctx context.Context) { r.preExit(ctx) }, Finished: r.stop, Status: r.status})
	return dispatch.NewGate(r.progress, stopping)
}

// sync is the aggregator's SyncFunc.
func (r *run) sync(ctx context.Context, b aggregator.Batch) error {
	r.log.Debug("sync", "queue", b.Queue.String(), "items", len(b.Items))
	start := time.Now()
	err := r.gate.Sync(ctx, b.Items, false)
	r.syncs.Add(1)
	end := time.Now()
	r.stats.synced(err, start, end)
	if r.cfg.ObserveSync != nil {
		r.cfg.ObserveSync(end.Sub(start), err)
	}
	if dispatch.IsFatal(err) {
		r.fail(err)
	}
	return err
}

func (r *run) serve(req request) {
	switch req.kind {
	case reqRescan:
		r.rescanAsked.Store(false)
		r.log.Info("full resync requested")
		_ = r.agg.Rescan(r.ctx)
	case reqReload:
		r.reloadRules()
	case reqQuit:
		go r.quit()
	case reqDrain:
		go r.drain()
	case reqDump:
		req.reply <- result{err: r.dump(req.dir)}
	case reqFlush:
		go func() {
			n, err := r.flush(req.ctx)
			req.reply <- result{n: n, err: err}
		}()
	case reqWaitIdle:
		go func() { req.reply <- result{err: r.waitIdle(req.ctx)} }()
	}
}

// flush is Flush: the watcher's barrier, then one sync of what it
// delivered, unless syncing is paused.
func (r *run) flush(ctx context.Context) (int, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	if r.hold.Held() {
		return 0, ErrPaused
	}
	if err := r.w.Quiesce(ctx); err != nil {
		return 0, r.stopped(err)
	}
	n, err := r.agg.Flush(ctx)
	return n, r.stopped(err)
}

// waitIdle is WaitIdle: the watcher's barrier, then the aggregator's.
func (r *run) waitIdle(ctx context.Context) error {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	if err := r.w.Quiesce(ctx); err != nil {
		return r.stopped(err)
	}
	if r.hold.Held() && r.agg.Load().Pending() > 0 {
		return ErrPaused
	}
	return r.stopped(r.agg.Idle(ctx))
}

// bound is ctx, ended also by the end of the run.
func (r *run) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(r.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// stopped is err, or ErrNotRunning when the run's end caused it.
func (r *run) stopped(err error) error {
	if err != nil && r.ctx.Err() != nil {
		return ErrNotRunning
	}
	return err
}

// quit is SIGQUIT: the pre-exit hook between syncs, with --sync-on-quit a
// sync of everything changed so far, then no new sync and the end of the
// running one.
func (r *run) quit() {
	r.status.Set("terminating")
	r.gate.Between(func() { r.preExit(r.ctx) })
	if r.cfg.SyncOnQuit {
		r.syncChanged()
	}
	r.gate.Close()
	r.stop()
}

// drain is quit without the hooks, for a restart with other options.
func (r *run) drain() {
	r.syncChanged()
	r.gate.Close()
	r.mu.Lock()
	r.drained = true
	r.mu.Unlock()
	r.stop()
}

// syncChanged syncs every change made before the call, whatever the delays
// say: the watcher's barrier, then a flush of what it delivered.
func (r *run) syncChanged() {
	if err := r.w.Quiesce(r.ctx); err != nil {
		return
	}
	_, _ = r.agg.Flush(r.ctx)
}

// exitWhenQuiet is --exit-on-no-events: once the initial sync is done,
// sync everything changed since, again and again, until a pass finds that
// nothing changed since the previous one; then the pre-exit hook, whose
// changes get one more pass, and the end of the run.
func (r *run) exitWhenQuiet() {
	for r.ctx.Err() == nil {
		before := r.syncs.Load()
		if err := r.w.Quiesce(r.ctx); err != nil {
			return // the watcher stopped: the run loop says why
		}
		n, err := r.agg.Flush(r.ctx)
		if err != nil || n != 0 || r.syncs.Load() != before {
			// Something was synced, so something may have changed
			// meanwhile; a failure goes back to the queue.
			continue
		}
		ran := false
		r.gate.Between(func() { ran = r.preExit(r.ctx) })
		if !ran {
			r.stop()
			return
		}
	}
}

// preExit runs --pre-exit-hook once, before the last sync; it tells
// whether the hook ran now. clsync skips it until the initial sync is done.
func (r *run) preExit(ctx context.Context) bool {
	r.preExitMu.Lock()
	defer r.preExitMu.Unlock()
	if r.cfg.Handler.PreExitHook == "" || r.preExitDone || !r.initialDone() {
		return false
	}
	r.preExitDone = true
	r.status.Set("preexit")
	handlers.RunHook(ctx, r.hooks(), r.log, "pre-exit-hook")
	return true
}

// hooks is the process that runs the exit hooks, made at the first one.
func (r *run) hooks() handlers.Process {
	r.hooksOnce.Do(func() { r.hooksProcess = handlers.ProcessFor(r.cfg.Handler) })
	return r.hooksProcess
}

func (r *run) initialDone() bool {
	select {
	case <-r.progress.InitialDone():
		return true
	default:
		return false
	}
}

func (r *run) wasDrained() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.drained
}

// fail stops the run with err, the first one given.
func (r *run) fail(err error) {
	r.mu.Lock()
	if r.fatal == nil {
		r.fatal = err
	}
	r.mu.Unlock()
	r.stop()
}

// result is the run's outcome: the fatal error if one stopped it,
// ErrDrained after Drain, nil if a signal or an exit condition did.
func (r *run) result() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.fatal != nil:
		return r.fatal
	case r.drained:
		return ErrDrained
	}
	return nil
}

// reloadRules re-reads -R and applies it: the watcher re-walks the tree,
// watching what became walked and reporting a rescan of what became walked
// or monitored (its changes went unreported); if what is synced may have
// changed, anywhere, the whole tree is resynced.
func (r *run) reloadRules() {
	if r.cfg.RulesFile == "" {
		return
	}
	set, err := rules.Load(r.cfg.RulesFile)
	if err != nil {
		r.log.Error("reload rules: keeping the old rules", "err", err)
		return
	}
	old := r.rules.p.Swap(set)
	r.log.Info("rules reloaded", "file", r.cfg.RulesFile, "rules", set.Len())
	go func() {
		if err := r.w.Reconcile(r.ctx); err != nil {
			return // the watcher stopped: the run loop says why
		}
		if !old.SameSync(set) {
			r.log.Info("the reloaded rules sync other paths: full resync")
			_ = r.agg.Rescan(r.ctx)
		}
	}()
}

// dump writes what the agent knows about itself (signal 29).
func (r *run) dump(dir string) error {
	write := lifecycle.WriteDump
	if r.cfg.WriteDump != nil {
		write = r.cfg.WriteDump
	}
	return write(dir, map[string]string{
		"status":          r.status.Get(),
		"iteration":       strconv.Itoa(r.progress.Iteration()),
		"watches":         strconv.Itoa(r.w.Watches()),
		"label":           r.cfg.Label,
		"watch-dir":       r.cfg.WatchDir,
		"destination-dir": r.cfg.Destination,
		"mode":            r.cfg.Mode,
		"pid":             strconv.Itoa(os.Getpid()),
	})
}

// liveRules lets ReloadRules swap the rules under the running watcher and
// handler. A nil set allows everything.
type liveRules struct{ p atomic.Pointer[rules.Set] }

func (l *liveRules) Sync(rel string, isDir bool) bool { return l.p.Load().Sync(rel, isDir) }
func (l *liveRules) Walk(rel string) bool             { return l.p.Load().Walk(rel) }
func (l *liveRules) Monitor(rel string) bool          { return l.p.Load().Monitor(rel) }

// statSize gives the aggregator lstat sizes for the big-file queue (-B).
func statSize(root string) func(string) (int64, bool) {
	return func(rel string) (int64, bool) {
		st, err := beneath.Lstat(root, rel)
		if err != nil {
			return 0, false
		}
		return st.Size, true
	}
}
