package split

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/clsync-go/clsync/handlers"
)

// The worker's inherited descriptors (see startWorker).
const (
	workerSockFd    = 3
	workerInotifyFd = 4
	workerWatchFd   = 5
	workerControlFd = 6
)

// Worker is the worker's side: the watcher's Kernel (the helper adds the
// watches), the handlers' Process (the helper starts them) and the status
// file's publisher.
type Worker struct {
	sock     int
	ListsDir string // the lists dir the helper chose

	// watchMu serialises the watch socket's request and reply.
	watchMu sync.Mutex
	watchID uint64
	buf     []byte

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]*call
	exits   map[uint64]chan reply
	gone    error // set once the helper's end closed
	dead    chan struct{}
}

type call struct {
	done chan reply
	exit chan reply // exec: where the handle's exit goes
}

// Connect reads the helper's greeting on the inherited socket.
func Connect() (*Worker, error) {
	w := &Worker{sock: workerSockFd, pending: map[uint64]*call{}, exits: map[uint64]chan reply{}, dead: make(chan struct{}),
		buf: make([]byte, 4096)}
	hello, err := w.recv()
	if err != nil {
		return nil, fmt.Errorf("privilege separation: no greeting from the helper: %w", err)
	}
	if hello.Op != "hello" || hello.Version != version {
		return nil, fmt.Errorf("privilege separation: helper speaks %q version %d, want version %d", hello.Op, hello.Version, version)
	}
	w.ListsDir = hello.ListsDir
	go w.read()
	return w, nil
}

// ControlListener is the control socket the helper listens on (-s),
// passed to us to accept its clients.
func (w *Worker) ControlListener() (net.Listener, error) {
	f := os.NewFile(workerControlFd, "control socket")
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("privilege separation: the control socket from the helper: %w", err)
	}
	return ln, nil
}

// Instance is the inotify instance the helper made. Passing it to us made
// its file description blocking; the watcher wants it non-blocking.
func (w *Worker) Instance() (int, error) {
	if err := unix.SetNonblock(workerInotifyFd, true); err != nil {
		return -1, fmt.Errorf("inotify descriptor from the helper: %w", err)
	}
	return workerInotifyFd, nil
}

// AddWatch asks the helper to watch the directory open as dfd, at rel.
func (w *Worker) AddWatch(dfd int, rel string, mask uint32) (int32, error) {
	r, err := w.watchCall(request{Op: "watch", Rel: rel, Mask: mask}, dfd)
	if err != nil {
		return -1, err
	}
	if r.Errno != 0 {
		return -1, syscall.Errno(r.Errno)
	}
	return r.WD, nil
}

// RemoveWatch asks the helper to remove watch wd.
func (w *Worker) RemoveWatch(wd int32) error {
	r, err := w.watchCall(request{Op: "unwatch", WD: wd}, -1)
	if err != nil {
		return err
	}
	if r.Errno != 0 {
		return syscall.Errno(r.Errno)
	}
	return nil
}

// Ready tells the helper the watches are in place (-b: the daemon is up).
func (w *Worker) Ready() {
	w.call(request{Op: "ready"}, -1, nil)
}

// WriteDump has the helper write the dump of signal 29 to its own
// --dump-dir (dir is the same setting, parsed by the worker).
func (w *Worker) WriteDump(dir string, facts map[string]string) error {
	r, err := w.call(request{Op: "dump", Facts: facts}, -1, nil)
	if err != nil {
		return err
	}
	if r.Error != "" {
		return errors.New(r.Error)
	}
	return nil
}

// PushStats hands the helper the worker's figures and the syncs ended
// since the last push.
func (w *Worker) PushStats(stats json.RawMessage, syncs []SyncResult) error {
	_, err := w.call(request{Op: "stats", Stats: stats, Syncs: syncs}, -1, nil)
	return err
}

// Notify has the helper send state to systemd.
func (w *Worker) Notify(state string) {
	w.call(request{Op: "notify", Word: state}, -1, nil)
}

// SetStatus has the helper write the status word to --status-file.
func (w *Worker) SetStatus(word string) error {
	_, err := w.call(request{Op: "status", Word: word}, -1, nil)
	return err
}

// Run has the helper start the handler run inv and waits for its end; a
// cancelled ctx has the helper kill it.
func (w *Worker) Run(ctx context.Context, inv handlers.Invocation, env []string, stderr io.Writer) (handlers.Exit, error) {
	f, isFile := stderr.(*os.File)
	var copied chan struct{}
	if !isFile {
		pr, pw, err := os.Pipe()
		if err != nil {
			return handlers.Exit{}, fmt.Errorf("handler stderr: %w", err)
		}
		copied = make(chan struct{})
		go func() {
			defer close(copied)
			io.Copy(stderr, pr)
			pr.Close()
		}()
		f = pw
		defer func() {
			if copied != nil {
				<-copied
			}
		}()
	}
	exit := make(chan reply, 1)
	r, err := w.call(request{Op: "exec", Inv: &inv, Env: env}, int(f.Fd()), exit)
	if !isFile {
		// The helper holds its own copy now: ours must close for the
		// pipe to end with the handler.
		f.Close()
	}
	if err != nil {
		return handlers.Exit{}, err
	}
	var end reply
	select {
	case end = <-exit:
	case <-w.dead:
		return handlers.Exit{}, w.goneErr()
	case <-ctx.Done():
		if _, err := w.call(request{Op: "kill", Handle: r.Handle}, -1, nil); err != nil {
			return handlers.Exit{}, err
		}
		select {
		case <-exit:
		case <-w.dead:
		}
		return handlers.Exit{}, fmt.Errorf("sync handler: killed: %w", context.Cause(ctx))
	}
	if end.Error != "" {
		return handlers.Exit{}, errors.New(end.Error)
	}
	return handlers.Exit{Code: end.Code, Signal: end.Signal}, nil
}

// watchCall sends a watch request (with fd, if not -1) on the watch socket
// and reads its reply there, on the calling goroutine: the walk waits for
// each watch, and a hand-off to a reader goroutine would double the cost.
func (w *Worker) watchCall(r request, fd int) (reply, error) {
	w.watchMu.Lock()
	defer w.watchMu.Unlock()
	w.watchID++
	r.ID = w.watchID
	b, err := json.Marshal(r)
	if err != nil {
		return reply{}, err
	}
	var rights []byte
	if fd >= 0 {
		rights = unix.UnixRights(fd)
	}
	if err := unix.Sendmsg(workerWatchFd, b, rights, nil, 0); err != nil {
		return reply{}, fmt.Errorf("privilege separation: write to the helper: %w", err)
	}
	rep, err := recvReply(workerWatchFd, w.buf)
	if err != nil {
		return reply{}, fmt.Errorf("privilege separation: the helper is gone: %w", err)
	}
	if rep.ID != r.ID {
		return reply{}, fmt.Errorf("privilege separation: the helper answered request %d, not %d", rep.ID, r.ID)
	}
	return rep, nil
}

// call sends a request (with fd, if not -1) and waits for its reply.
func (w *Worker) call(r request, fd int, exit chan reply) (reply, error) {
	c := &call{done: make(chan reply, 1), exit: exit}
	w.mu.Lock()
	if w.gone != nil {
		w.mu.Unlock()
		return reply{}, w.gone
	}
	w.nextID++
	r.ID = w.nextID
	w.pending[r.ID] = c
	w.mu.Unlock()
	b, err := json.Marshal(r)
	if err == nil {
		var rights []byte
		if fd >= 0 {
			rights = unix.UnixRights(fd)
		}
		err = unix.Sendmsg(w.sock, b, rights, nil, 0)
	}
	if err != nil {
		w.mu.Lock()
		delete(w.pending, r.ID)
		w.mu.Unlock()
		return reply{}, fmt.Errorf("privilege separation: write to the helper: %w", err)
	}
	select {
	case rep := <-c.done:
		return rep, nil
	case <-w.dead:
		return reply{}, w.goneErr()
	}
}

func (w *Worker) goneErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.gone
}

// read dispatches the helper's messages until its end closes.
func (w *Worker) read() {
	for {
		m, err := w.recv()
		if err != nil {
			w.mu.Lock()
			w.gone = fmt.Errorf("privilege separation: the helper is gone: %w", err)
			w.mu.Unlock()
			close(w.dead)
			return
		}
		w.mu.Lock()
		switch m.Op {
		case "reply":
			if c, ok := w.pending[m.ID]; ok {
				delete(w.pending, m.ID)
				if c.exit != nil && m.Handle != 0 {
					w.exits[m.Handle] = c.exit
				}
				c.done <- m
			}
		case "exit":
			if ch, ok := w.exits[m.Handle]; ok {
				delete(w.exits, m.Handle)
				ch <- m
			}
		}
		w.mu.Unlock()
	}
}

func (w *Worker) recv() (reply, error) {
	return recvReply(w.sock, make([]byte, 4096))
}

// recvReply reads one message of the helper from sock.
func recvReply(sock int, buf []byte) (reply, error) {
	for {
		n, _, _, _, err := unix.Recvmsg(sock, buf, nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return reply{}, err
		}
		if n == 0 {
			return reply{}, io.EOF
		}
		var r reply
		if err := json.Unmarshal(buf[:n], &r); err != nil {
			return reply{}, fmt.Errorf("malformed message from the helper: %w", err)
		}
		return r, nil
	}
}
