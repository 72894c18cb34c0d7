//go:build linux

package watcher

import (
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// A step is system calls (open the parent and the directory, stat, watch,
// list) and then bookkeeping in the tree. The calls are nearly all of its
// time (35 us per directory on tmpfs, 99% in the kernel), so on a big walk
// the steps of a chunk are probed in parallel: the calls run on every core
// while the tree, which only the reader owns, waits; then the reader
// settles them in order. That is the order of a sequential walk of the
// same steps with nothing read from the queue in between, as walkSome
// does, so it is equally correct, with two exceptions that fall back to
// step, which handles every case: a probe that met anything but a plain
// directory (an error, a stale parent, another file system), and any step
// after a move or drop of a node in the chunk (the paths probed may be
// stale).

// minProbed is the fewest queued steps worth probing in parallel.
const minProbed = 8

// maxProbers bounds the probing goroutines: inotify_add_watch serialises on
// the instance, so more cores gain little.
const maxProbers = 4

// probe is one step's system calls, done by a prober.
type probe struct {
	it    walkItem
	st    unix.Stat_t
	wd    int32
	names []string // the subdirectories listed
	ok    bool     // else step does it again
}

// prober is one probing goroutine's buffers.
type prober struct {
	path, dirents []byte
}

// canProbe tells whether steps may be probed: only plain inotify without
// rules (rules and the privileged helper's watches are not safe to call
// from several goroutines; fanotify keeps a handle table) nor tracing.
func (w *treeWatcher) canProbe() bool {
	return w.fan == nil && w.opts.Kernel == nil && !w.noOpenat2 && !w.hasRules() && !w.trace
}

// walkProbed does up to n steps, probed in parallel.
func (w *treeWatcher) walkProbed(n int) error {
	if len(w.probers) == 0 {
		w.probers = make([]prober, min(runtime.GOMAXPROCS(0), maxProbers))
		w.probes = make([]probe, walkChunk)
	}
	k := 0
	for k < min(n, len(w.probes)) && len(w.stack) > 0 {
		it := w.stack[len(w.stack)-1]
		if it.parent == nil || it.job.kind == jobReconcile {
			break // the root's step checks more; a reconcile's compares
		}
		w.stack[len(w.stack)-1] = walkItem{}
		w.stack = w.stack[:len(w.stack)-1]
		w.probes[k] = probe{it: it, names: w.probes[k].names[:0]}
		k++
	}
	if k == 0 {
		return w.walkSequential(1)
	}
	probes := w.probes[:k]
	var wg sync.WaitGroup
	for i := range min(len(w.probers), k) {
		wg.Go(func() {
			pr := &w.probers[i]
			for j := i; j < k; j += len(w.probers) {
				w.probeStep(pr, &probes[j])
			}
		})
	}
	wg.Wait()
	shape := w.reshaped
	for i := range probes {
		p := &probes[i]
		var err error
		if p.ok && w.reshaped == shape {
			err = w.settleStep(p.it, p.wd, &p.st, -1, p.names)
		} else {
			err = w.step(p.it)
		}
		clear(p.names)
		p.it = walkItem{}
		if err != nil {
			// Back on the stack as they were, for what the error leaves.
			for j := k - 1; j > i; j-- {
				w.stack = append(w.stack, probes[j].it)
				probes[j].it = walkItem{}
			}
			return err
		}
	}
	return nil
}

// probeStep does the system calls of openItem, addWatch and subdirs for the
// step of p, reading the tree only. A watch it adds is harmless if the step
// is done again: the kernel gives the same wd for the same directory.
func (w *treeWatcher) probeStep(pr *prober, p *probe) {
	parent := p.it.parent
	if !parent.attached() {
		return
	}
	if pr.dirents == nil {
		pr.dirents = make([]byte, len(w.dirents))
	}
	pr.path = append(parent.appendRel(append(pr.path[:0], w.prefix...)), 0)
	pfd, err := openBeneath(pr.path)
	if err != nil {
		return
	}
	var pst unix.Stat_t
	if err := unix.Fstat(pfd, &pst); err != nil || uint32(pst.Dev) != parent.dev || pst.Ino != parent.ino {
		unix.Close(pfd)
		return
	}
	pr.path = append(append(pr.path[:0], p.it.name...), 0)
	fd, err := openat(pfd, pr.path, dirOpenFlags)
	unix.Close(pfd)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	if err := unix.Fstat(fd, &p.st); err != nil || w.opts.OneFileSystem && p.st.Dev != w.pin.Dev {
		return
	}
	pr.path = procFdPath(pr.path, fd)
	if p.wd, err = inotifyAddWatch(w.fd, pr.path, watchMask); err != nil {
		return
	}
	err = listSubdirs(fd, pr.dirents, func(name string) { p.names = append(p.names, name) })
	p.ok = err == nil
}
