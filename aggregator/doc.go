// Package aggregator batches watcher events with clsync 0.4.5's timing and
// hands each batch to a sync function, one run at a time, so that a
// destination converges to the source without ever losing a change.
//
// # API
//
// Core is the pure state machine: no goroutines, no clock, no I/O except
// Config.Stat. Every method takes the current time explicitly, so tests drive
// it with fixed times.
//
//	c := NewCore(cfg)
//	c.Add(events, now)         // merge events into the queues
//	c.Rescan(now)              // queue a full resync of the root (instant queue)
//	b, ok := c.Next(now)       // a due batch; starts a handler run
//	t, ok := c.Wake(now)       // when Next may next return a batch
//	c.Done()                   // the handler run ended
//	c.Requeue(b.Items, now)    // a failed batch: merge it back, due at once
//	b, ok = c.Flush(now)       // everything queued, ignoring -t, -T and -w
//	c.Len()                    // queued paths
//
// Aggregator is the loop around a Core: one goroutine (Run) owns the Core,
// reads event slices, arms a timer from Wake and calls a SyncFunc in a
// goroutine of its own, so events keep being read while a sync runs. A sync
// that returns an error has its items requeued. The main program reaches the
// loop through two methods:
//
//   - Flush syncs everything queued now, ignoring delays, and reports how
//     many paths it synced: 0 with a nil error means the queue was empty and
//     no sync was running (--exit-on-no-events); SIGQUIT with --sync-on-quit
//     calls Flush and then cancels Run's context.
//   - Rescan queues a full resync of the root (SIGUSR2, and the initial sync).
//
// # Timing (clsync 0.4.5 sync.c, followed unless noted)
//
// Queues. clsync keeps QUEUE_NORMAL (-t), QUEUE_BIGFILE (-T), QUEUE_INSTANT
// (the initial sync and SIGUSR2, never waits) and QUEUE_LOCKWAIT (only with
// --threading=safe, not used here). An event on a regular file goes to the
// big-file queue when its lstat size is strictly greater than -B
// (sync_queuesync: fsize > bfilethreshold); directories, removals and
// rescans go to the normal queue. -B 0 disables big-file detection and the
// lstat, as clsync's manual says (its code would instead send every
// non-empty file to the big-file queue).
//
// Due time. A queue's clock starts when its first event enters it
// (queueinfo->stime, set in sync_queuesync only when zero) and the queue is
// due at stime + its delay (sync_idle_dosync_collectedevents_aggrqueue:
// "too early" while stime + collectdelay > now); everything that joined the
// queue by then goes out with it, and stime is cleared. A delay of 0 is due
// at once: clsync still sleeps one second in notify_wait before its select,
// this package does not.
//
// -w. clsync sets synctime = now + syncdelay at the start of
// sync_idle_dosync_collectedevents, before the handler runs, and notify_wait
// does not call sync_idle before synctime. Without threading the handler runs
// inside that call, so the next run starts no earlier than
// max(end of the previous run, start of the previous run + -w): -w is
// measured start to start. This package does the same: Next records the start,
// Done only ends the run. The instant queue is not held by -w (notify_wait
// returns at once when QUEUE_INSTANT has events); -t 0 is not instant in that
// sense and is still held by -w.
//
// One run for all due queues. When a run starts, clsync walks every queue and
// collects, into one list and one handler call, each queue whose collect
// delay has passed (only the trigger waits for -w). Next does the same, so
// two queues due together cost one handler run. Batch.Queue names the most
// urgent queue that contributed: Instant, then Normal, then BigFile.
//
// One entry per path. clsync may hold a path in several queues and, when one
// queue fires, pulls the path out of the others (_sync_idle_dosync_collected
// events), so the path leaves with the earliest queue. Here a path has a
// single entry that always sits in the queue that is due first: a new event
// on a queued path moves it to the event's queue only if that is due
// earlier; merging never delays a change. Ops and kernel masks are OR-ed
// (evinfo_merge), IsDir is taken from the latest event.
//
// # Covering and bounded memory
//
// An entry with Rescan stands for its whole subtree: queuing it drops every
// queued descendant, and later events below it are absorbed (they only move
// it to an earlier queue when they are due earlier). When a directory has
// more than CollapseChildren children holding queued paths, they are replaced
// by the directory with Rescan; when the tree of tracked paths (queued paths
// and their ancestors) exceeds MaxItems, everything collapses into a Rescan
// of the root. A collapsed entry keeps the earliest due time of what it
// replaced, so collapsing never delays a change either.
//
// # Failures
//
// clsync retries a failed handler inside the same run, sleeping -w between
// tries, up to --retries (sync_exec_argv), blocking its event loop
// meanwhile. Here a failed batch is requeued (Core.Requeue): due at once,
// held only by -w, merged with what arrived meanwhile, never dropped. A
// batch that keeps failing is thus retried every -w; a retry limit,
// backoff, or giving up (by cancelling Run's context) belongs to the
// SyncFunc, like clsync's --retries to its handler wrapper.

package aggregator
