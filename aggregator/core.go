package aggregator

import (
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clsync-go/clsync/event"
)

// Queue tells which of clsync's queues a batch comes from.
type Queue uint8

const (
	// Normal collects for CollectDelay (-t).
	Normal Queue = iota
	// BigFile collects regular files larger than BigFileThreshold (-B) for
	// BigFileDelay (-T).
	BigFile
	// Instant never waits, not even for SyncDelay: full resyncs requested
	// with Rescan (clsync's initial sync and SIGUSR2).
	Instant

	numQueues = 3
)

func (q Queue) String() string {
	switch q {
	case Normal:
		return "normal"
	case BigFile:
		return "bigfile"
	case Instant:
		return "instant"
	}
	return "queue(" + strconv.Itoa(int(q)) + ")"
}

// Defaults of clsync 0.4.5 (configuration.h) and of the memory bounds.
const (
	DefaultCollectDelay     = 30 * time.Second
	DefaultBigFileDelay     = 1800 * time.Second
	DefaultSyncDelay        = 30 * time.Second
	DefaultBigFileThreshold = 128 << 20
	DefaultMaxItems         = 100000
	DefaultCollapseChildren = 1000
)

// Config sets the timing and the memory bounds. Durations are taken
// literally: 0 means "at once", negative counts as 0.
type Config struct {
	CollectDelay time.Duration // -t
	BigFileDelay time.Duration // -T
	SyncDelay    time.Duration // -w, start of one run to start of the next
	// BigFileThreshold (-B) in bytes: a regular file larger than this goes
	// to the big-file queue. 0 (or less) disables the detection and Stat.
	BigFileThreshold int64
	// MaxItems bounds the paths the Core tracks (queued paths plus their
	// ancestor directories); beyond it everything collapses into a Rescan
	// of the root. 0 (or less) means DefaultMaxItems.
	MaxItems int
	// Parallel is how many handler runs may go on at once (--threading
	// safe or full); 0 or 1: one at a time, clsync's default.
	Parallel int
	// Safe keeps a path out of a run while another run holds it, its
	// ancestors or its descendants. Without it runs may overlap.
	Safe bool
	// CollapseChildren bounds the children of one directory that hold
	// queued paths; beyond it they collapse into a Rescan of the directory.
	// 0 (or less) means DefaultCollapseChildren.
	CollapseChildren int
	// Logger, if it takes Debug, gets every event as it is queued.
	Logger *slog.Logger
	// Received, when set, is called with the events read, before they are
	// queued (counters for monitoring).
	Received func(evs []event.Event)
	// Stat returns the lstat size of a path relative to the watched root,
	// ok=false if it cannot be had (the file is gone: normal queue). It is
	// called only for events on regular files that are not removals, only
	// when BigFileThreshold > 0, and not when the path is already queued
	// where neither queue could make it due sooner. nil disables big-file
	// detection.
	Stat func(rel string) (size int64, ok bool)
}

// DefaultConfig returns clsync 0.4.5's defaults (-t 30 -T 1800 -w 30
// -B 134217728) without a Stat function.
func DefaultConfig() Config {
	return Config{
		CollectDelay:     DefaultCollectDelay,
		BigFileDelay:     DefaultBigFileDelay,
		SyncDelay:        DefaultSyncDelay,
		BigFileThreshold: DefaultBigFileThreshold,
		MaxItems:         DefaultMaxItems,
		CollapseChildren: DefaultCollapseChildren,
	}
}

// Batch is what one handler run syncs: Items sorted by Path in byte order,
// no item below another item that has Rescan.
type Batch struct {
	Queue Queue
	Items []event.Event
}

// Core is the aggregator's state machine. It is not safe for concurrent use;
// the loop (Aggregator.Run) owns one.
type Core struct {
	cfg    Config
	nodes  map[string]*node
	queues [numQueues]queue
	queued int

	running   int       // handler runs in progress
	started   bool      // some run has started, so lastStart counts
	lastStart time.Time // start of the latest run, for -w

	// Reused buffers, so that Add does not allocate for the walk.
	missing []string
	stack   []*node
}

// slot is a place in a queue: queue q, as if the change entered it at at.
type slot struct {
	q  Queue
	at time.Time
}

// NewCore returns an empty Core for cfg.
func NewCore(cfg Config) *Core {
	cfg.CollectDelay = max(cfg.CollectDelay, 0)
	cfg.BigFileDelay = max(cfg.BigFileDelay, 0)
	cfg.SyncDelay = max(cfg.SyncDelay, 0)
	if cfg.MaxItems <= 0 {
		cfg.MaxItems = DefaultMaxItems
	}
	if cfg.CollapseChildren <= 0 {
		cfg.CollapseChildren = DefaultCollapseChildren
	}
	c := &Core{cfg: cfg, nodes: make(map[string]*node)}
	c.queues[Normal].delay = cfg.CollectDelay
	c.queues[BigFile].delay = cfg.BigFileDelay
	return c
}

// Add merges events that were read at now.
func (c *Core) Add(events []event.Event, now time.Time) {
	detect := c.cfg.BigFileThreshold > 0 && c.cfg.Stat != nil
	for _, ev := range events {
		maybeBig := detect && !ev.IsDir && ev.Op&(event.Remove|event.Rescan) == 0
		c.add(ev.Path, ev.Op, ev.IsDir, ev.Mask, slot{Normal, now}, maybeBig)
	}
}

// Rescan queues a Rescan of the root in the instant queue: the next Next
// returns it (with whatever else is due) as soon as no run is in progress,
// regardless of -w.
func (c *Core) Rescan(now time.Time) {
	c.add("", event.Rescan, true, 0, slot{Instant, now}, false)
}

// Requeue merges back the items of a failed run into the normal queue, due
// at once, subject to -w. The queue has one clock, as in clsync, so what
// else waits in it leaves with them.
func (c *Core) Requeue(items []event.Event, now time.Time) {
	s := slot{Normal, now.Add(-c.cfg.CollectDelay)}
	for _, it := range items {
		c.add(it.Path, it.Op, it.IsDir, it.Mask, s, false)
	}
}

// Len returns the number of queued paths.
func (c *Core) Len() int { return c.queued }

// Next returns a due batch and starts a handler run at now, if no run is in
// progress and -w allows. The caller must call Done when the run ends.
func (c *Core) Next(now time.Time) (Batch, bool) {
	if c.full() || c.queued == 0 {
		return Batch{}, false
	}
	var take [numQueues]bool
	due := false
	for _, q := range []Queue{Normal, BigFile} {
		qu := &c.queues[q]
		if qu.len > 0 && !now.Before(qu.first.Add(qu.delay)) {
			take[q], due = true, true
		}
	}
	take[Instant] = c.queues[Instant].len > 0
	if !take[Instant] && (!due || now.Before(c.gate())) {
		return Batch{}, false
	}
	return c.emit(take, now), true
}

// Flush returns everything queued, ignoring -t, -T and -w, and starts a
// handler run at now. It returns false when a run is in progress or nothing
// is queued.
func (c *Core) Flush(now time.Time) (Batch, bool) {
	if c.full() || c.queued == 0 {
		return Batch{}, false
	}
	var take [numQueues]bool
	for q := range take {
		take[q] = c.queues[q].len > 0
	}
	return c.emit(take, now), true
}

// Wake returns when Next may next return a batch, never before now: t equal
// to now means Next returns one now. ok is false while a run is in progress
// (wait for Done) or when nothing is queued (wait for Add).
func (c *Core) Wake(now time.Time) (t time.Time, ok bool) {
	if c.full() || c.queued == 0 {
		return time.Time{}, false
	}
	if c.queues[Instant].len > 0 {
		return now, true
	}
	for _, q := range []Queue{Normal, BigFile} {
		qu := &c.queues[q]
		if qu.len == 0 {
			continue
		}
		due := qu.first.Add(qu.delay)
		if g := c.gate(); due.Before(g) {
			due = g
		}
		if !ok || due.Before(t) {
			t, ok = due, true
		}
	}
	if t.Before(now) {
		t = now
	}
	return t, ok
}

// Done ends the handler run started by Next or Flush. -w counts from the
// run's start, as in clsync, so the end time does not matter.
func (c *Core) Done() {
	if c.running > 0 {
		c.running--
	}
}

// full tells whether as many runs as Config.Parallel allows are running.
func (c *Core) full() bool { return c.running >= max(c.cfg.Parallel, 1) }

// gate is the earliest start of the next run that -w allows.
func (c *Core) gate() time.Time {
	if !c.started {
		return time.Time{}
	}
	return c.lastStart.Add(c.cfg.SyncDelay)
}

// emit takes every entry of the chosen queues into a batch and starts a run.
func (c *Core) emit(take [numQueues]bool, now time.Time) Batch {
	n := 0
	for q, t := range take {
		if t {
			n += c.queues[q].len
		}
	}
	b := Batch{Items: make([]event.Event, 0, n)}
	labelled := false
	// Most urgent first: the batch is named after the first queue taken.
	for _, q := range []Queue{Instant, Normal, BigFile} {
		if !take[q] {
			continue
		}
		if !labelled {
			b.Queue, labelled = q, true
		}
		for qu := &c.queues[q]; qu.head != nil; {
			nd := qu.head
			b.Items = append(b.Items, event.Event{Path: nd.path, Op: nd.op, IsDir: nd.isDir, Mask: nd.mask})
			c.unqueue(nd)
		}
	}
	slices.SortFunc(b.Items, func(x, y event.Event) int { return strings.Compare(x.Path, y.Path) })
	c.running++
	c.started, c.lastStart = true, now
	return b
}

// add merges one change of path p into the tree. s is where the change
// would go on its own; maybeBig says s may turn into the big-file queue
// depending on the file's size.
func (c *Core) add(p string, op event.Op, isDir bool, mask uint32, s slot, maybeBig bool) {
	nd, anc := c.locate(p)
	if nd == nil && anc != nil && anc.queued && anc.op&event.Rescan != 0 {
		// A Rescan above p will sync p anyway; only its timing may change.
		have := c.slotOf(anc)
		c.promote(anc, c.pick(p, s, maybeBig, &have))
		return
	}
	if nd != nil && nd.queued {
		have := c.slotOf(nd)
		s = c.pick(p, s, maybeBig, &have)
		nd.op |= op
		nd.isDir = isDir
		nd.mask |= mask
		c.promote(nd, s)
	} else {
		s = c.pick(p, s, maybeBig, nil)
		if nd == nil {
			nd = c.create(anc)
		}
		c.setQueued(nd, op, isDir, mask, s)
	}
	if op&event.Rescan != 0 && nd.kids != nil {
		c.absorb(nd)
	}
	// Only anc gained a child: every node created below it has one.
	if anc != nil && anc.nkids > c.cfg.CollapseChildren {
		c.collapse(anc)
	}
	if len(c.nodes) > c.cfg.MaxItems {
		c.collapse(c.nodes[""])
	}
}

// pick returns the slot of a change: s, or the big-file queue when maybeBig
// and the file is larger than the threshold. The lstat is skipped when the
// path already sits in a slot that neither choice would improve on.
func (c *Core) pick(p string, s slot, maybeBig bool, have *slot) slot {
	if !maybeBig {
		return s
	}
	big := slot{BigFile, s.at}
	if have != nil && !c.better(s, *have) && !c.better(big, *have) {
		return s
	}
	if size, ok := c.cfg.Stat(p); ok && size > c.cfg.BigFileThreshold {
		return big
	}
	return s
}

// slotOf returns where a queued node sits now.
func (c *Core) slotOf(nd *node) slot { return slot{nd.q, c.queues[nd.q].first} }

// due is when a change placed in s would be due (ignoring -w).
func (c *Core) due(s slot) time.Time {
	qu := &c.queues[s.q]
	at := s.at
	if qu.len > 0 && qu.first.Before(at) {
		at = qu.first
	}
	return at.Add(qu.delay)
}

// better reports whether a change in a would be synced before one in b. The
// instant queue beats everything because -w does not hold it; ties go to
// the lower queue number (normal before big-file).
func (c *Core) better(a, b slot) bool {
	if (a.q == Instant) != (b.q == Instant) {
		return a.q == Instant
	}
	da, db := c.due(a), c.due(b)
	if !da.Equal(db) {
		return da.Before(db)
	}
	return a.q < b.q
}

// promote moves a queued node to s if it is due earlier there.
func (c *Core) promote(nd *node, s slot) {
	if c.better(s, c.slotOf(nd)) {
		c.queues[nd.q].remove(nd)
		c.enqueue(nd, s)
	}
}

func (c *Core) enqueue(nd *node, s slot) {
	qu := &c.queues[s.q]
	if qu.len == 0 || s.at.Before(qu.first) {
		qu.first = s.at
	}
	qu.push(nd)
	nd.q = s.q
}

// setQueued turns a tracked (or new) node into a queued entry.
func (c *Core) setQueued(nd *node, op event.Op, isDir bool, mask uint32, s slot) {
	nd.queued, nd.op, nd.isDir, nd.mask = true, op, isDir, mask
	c.enqueue(nd, s)
	for x := nd; x != nil; x = x.parent {
		x.n++
	}
	c.queued++
}

// unqueue removes a queued entry and prunes the nodes left without one.
func (c *Core) unqueue(nd *node) {
	c.queues[nd.q].remove(nd)
	nd.queued, nd.op, nd.mask = false, 0, 0
	c.queued--
	for x := nd; x != nil; {
		x.n--
		p := x.parent
		if x.n == 0 {
			if p != nil {
				p.unlink(x)
			}
			delete(c.nodes, x.path)
		}
		x = p
	}
}

// absorb drops the queued descendants of d, a queued Rescan, keeping d at
// least as early as the earliest of them.
func (c *Core) absorb(d *node) {
	k, best, found := c.dropBelow(d)
	if found {
		c.promote(d, best)
	}
	c.subtract(d, k)
}

// collapse replaces everything queued below d by d with Rescan.
func (c *Core) collapse(d *node) {
	if d.queued {
		d.op |= event.Rescan
		d.isDir = true
		c.absorb(d)
		return
	}
	// d is tracked but not queued, so something below it is: found is true.
	k, best, _ := c.dropBelow(d)
	c.setQueued(d, event.Rescan, true, 0, best)
	c.subtract(d, k)
}

// dropBelow forgets every node below d and returns how many queued entries
// it dropped and the best slot among them. The counts of d and its
// ancestors are left to the caller (subtract), so that none of them reaches
// zero, and is pruned, half way.
func (c *Core) dropBelow(d *node) (k int, best slot, found bool) {
	stack := c.stack[:0]
	for x := d.kids; x != nil; x = x.next {
		stack = append(stack, x)
	}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if x.queued {
			// The slot is read before removal, which may reset the
			// queue's first time.
			if s := c.slotOf(x); !found || c.better(s, best) {
				best, found = s, true
			}
			c.queues[x.q].remove(x)
			k++
		}
		delete(c.nodes, x.path)
		for y := x.kids; y != nil; y = y.next {
			stack = append(stack, y)
		}
	}
	clear(stack[:cap(stack)])
	c.stack = stack[:0]
	d.kids, d.nkids = nil, 0
	c.queued -= k
	return k, best, found
}

// subtract removes k dropped entries from the counts of d and its ancestors.
func (c *Core) subtract(d *node, k int) {
	for x := d; x != nil; x = x.parent {
		x.n -= k
	}
}
