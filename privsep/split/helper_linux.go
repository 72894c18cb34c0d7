package split

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/clsync-go/clsync/handlers"
	"github.com/clsync-go/clsync/internal/lifecycle"
	"github.com/clsync-go/clsync/privsep"
)

type helper struct {
	cfg      HelperConfig
	log      *slog.Logger
	sock     int
	inotify  int
	root     int
	listsDir string
	// local starts the handlers.
	local *handlers.Local
	// privateDir holds the private lists dir, when we made it.
	privateDir string
	status     *lifecycle.Status
	// watchSock carries the watch requests, synchronously.
	watchSock int
	// workerSock and workerWatchSock are the worker's ends until the
	// worker has them.
	workerSock, workerWatchSock *os.File
	// inotifyFile holds h.inotify for the worker's ExtraFiles.
	inotifyFile *os.File

	mu      sync.Mutex
	issued  uint64                        // handles given out so far
	running map[uint64]context.CancelFunc // by handle
	wg      sync.WaitGroup
}

// Available is nil: Linux has everything the split needs.
func Available() error { return nil }

// Serve starts the worker and serves it until it exits, forwarding
// signals to it; the end of ctx is a SIGTERM to it. It returns the worker's exit code, or an error when the
// worker broke the protocol or could not be started.
func Serve(ctx context.Context, cfg HelperConfig, signals <-chan os.Signal) (int, error) {
	h := &helper{cfg: cfg, log: cfg.Logger, running: map[uint64]context.CancelFunc{},
		status: &lifecycle.Status{Path: cfg.StatusFile, Log: cfg.Logger}}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	removePid, err := lifecycle.WritePidFile(cfg.PidFile)
	if err != nil {
		return 0, err
	}
	defer removePid()
	defer h.status.Remove()
	if err := h.open(); err != nil {
		h.close()
		return 0, err
	}
	defer h.close()
	worker, workerEnd, err := h.startWorker()
	if err != nil {
		return 0, err
	}
	// The handlers' sandbox is built with the privileges it needs.
	if err := h.local.Setup(); err != nil {
		worker.Process.Kill()
		<-workerEnd
		return 0, err
	}
	if cfg.Drop != nil {
		if err := cfg.Drop(); err != nil {
			worker.Process.Kill()
			<-workerEnd
			return 0, err
		}
	}
	// Each socket is read and served by a goroutine of its own; the first
	// error (a violation, or the worker's end closing) ends the run.
	errs := make(chan error, 2)
	go func() { errs <- h.read(h.sock, false) }()
	go func() { errs <- h.read(h.watchSock, true) }()
	done := ctx.Done()
	for {
		select {
		case <-done:
			done = nil
			worker.Process.Signal(syscall.SIGTERM)
		case sig := <-signals:
			worker.Process.Signal(sig)
		case code := <-workerEnd:
			h.stopHandlers()
			return code, nil
		case err := <-errs:
			if perr := (*ProtocolError)(nil); errors.As(err, &perr) {
				worker.Process.Signal(syscall.SIGKILL)
				h.stopHandlers()
				<-workerEnd
				return 0, err
			}
			// The worker closed its end: it is exiting, with the code
			// we return.
			code := <-workerEnd
			h.stopHandlers()
			return code, nil
		}
	}
}

// open makes the socket pair, the inotify instance, the handle on the
// watch dir every watch is resolved beneath, and the private lists dir.
func (h *helper) open() error {
	h.sock, h.watchSock, h.inotify, h.root = -1, -1, -1, -1
	var err error
	if h.sock, h.workerSock, err = socketPair("worker socket"); err != nil {
		return err
	}
	if h.watchSock, h.workerWatchSock, err = socketPair("worker watch socket"); err != nil {
		return err
	}
	if h.inotify, err = unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC); err != nil {
		return fmt.Errorf("privilege separation: inotify_init1: %w", err)
	}
	h.inotifyFile = os.NewFile(uintptr(h.inotify), "inotify")
	if h.root, err = unix.Open(h.cfg.WatchDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		return fmt.Errorf("privilege separation: open %s: %w", h.cfg.WatchDir, err)
	}
	h.listsDir = h.cfg.ListsDir
	if h.listsDir == "" {
		// Ours, holding the worker's: a helper without CAP_DAC_OVERRIDE
		// can still remove what it owns from a sticky /tmp.
		if h.privateDir, err = os.MkdirTemp("", "clsync-"); err != nil {
			return fmt.Errorf("privilege separation: create lists dir: %w", err)
		}
		os.Chmod(h.privateDir, 0o711)
		h.listsDir = filepath.Join(h.privateDir, "lists")
		if err := os.Mkdir(h.listsDir, 0o700); err != nil {
			return fmt.Errorf("privilege separation: create lists dir: %w", err)
		}
		if err := os.Chown(h.listsDir, int(h.cfg.Worker.UID), int(h.cfg.Worker.GID)); err != nil {
			return fmt.Errorf("privilege separation: lists dir: %w", err)
		}
		h.cfg.Handler = handlers.WithListsDir(h.cfg.Handler, h.listsDir)
	}
	h.local = handlers.NewLocal(h.cfg.Handler)
	return nil
}

func (h *helper) close() {
	if h.inotifyFile != nil {
		h.inotifyFile.Close()
	}
	for _, fd := range []int{h.sock, h.watchSock, h.root} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	for _, f := range []*os.File{h.workerSock, h.workerWatchSock} {
		if f != nil {
			f.Close()
		}
	}
	if h.privateDir != "" && !h.cfg.KeepLists {
		if err := os.RemoveAll(h.privateDir); err != nil {
			h.log.Warn("remove the private lists dir", "err", err)
		}
	}
}

// socketPair is a SOCK_SEQPACKET pair: our end, and the worker's as a
// file for its ExtraFiles.
func socketPair(name string) (int, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, fmt.Errorf("privilege separation: socketpair: %w", err)
	}
	for _, fd := range fds {
		// A datagram must fit the socket's buffer whole.
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 4*maxMessage)
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4*maxMessage)
	}
	return fds[0], os.NewFile(uintptr(fds[1]), name), nil
}

// startWorker re-executes us as the worker: fd 3 the socket, fd 4 the
// inotify instance (read only by the worker: the helper adds the
// watches), fd 5 the socket for watches alone, where every request is
// answered before the next comes (the walk waits for each watch), fd 6
// the control socket, if any. The channel delivers its exit code.
func (h *helper) startWorker() (*exec.Cmd, <-chan int, error) {
	cmd := exec.Command("/proc/self/exe", append([]string{WorkerCommand}, h.cfg.Argv...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = h.cfg.Env
	cmd.Args[0] = os.Args[0] // what ps shows
	cmd.ExtraFiles = []*os.File{h.workerSock, h.inotifyFile, h.workerWatchSock}
	if h.cfg.Control != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, h.cfg.Control)
	}
	id := h.cfg.Worker
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: id.UID, Gid: id.GID, Groups: []uint32{}},
	}
	privsep.SetNamespaces(cmd.SysProcAttr, id.Detach)
	// CAP_SETPCAP only until Confine has cut the bounding set.
	cmd.SysProcAttr.AmbientCaps = []uintptr{unix.CAP_SETPCAP}
	if id.ReadTree {
		cmd.SysProcAttr.AmbientCaps = append(cmd.SysProcAttr.AmbientCaps, unix.CAP_DAC_READ_SEARCH)
	}
	waited, err := privsep.Start(cmd, nil)
	// Our copies: the worker has its own, and its end must close with it.
	h.workerSock.Close()
	h.workerWatchSock.Close()
	h.workerSock, h.workerWatchSock = nil, nil
	if err != nil {
		return nil, nil, fmt.Errorf("privilege separation: start the worker: %w", err)
	}
	if err := h.send(h.sock, reply{Op: "hello", Version: version, ListsDir: h.listsDir}); err != nil {
		cmd.Process.Kill()
		<-waited
		return nil, nil, fmt.Errorf("privilege separation: greet the worker: %w", err)
	}
	end := make(chan int, 1)
	go func() {
		<-waited
		exit := handlers.ExitOf(cmd.ProcessState)
		if exit.Code < 0 {
			// As a shell says it.
			exit.Code = 128 + exit.Signal
		}
		end <- exit.Code
	}()
	return cmd, end, nil
}

// read serves the requests of one socket until its end closes or one is a
// violation; the watch socket carries watches alone, the other everything
// else.
func (h *helper) read(sock int, watches bool) error {
	buf := make([]byte, maxMessage+1)
	oob := make([]byte, unix.CmsgSpace(4*4))
	for {
		n, oobn, flags, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return fmt.Errorf("privilege separation: read from the worker: %w", err)
		case n == 0 && oobn == 0:
			return errors.New("worker closed its end")
		}
		fds, err := parseRights(oob[:oobn])
		if err == nil && (flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 || n > maxMessage) {
			err = &ProtocolError{Err: errors.New("a request larger than the protocol allows")}
		}
		if err == nil {
			err = h.serve(sock, watches, buf[:n], fds)
		} else {
			for _, fd := range fds {
				unix.Close(fd)
			}
		}
		if err != nil {
			return err
		}
	}
}

// serve answers one request read from sock; an error stops the helper.
func (h *helper) serve(sock int, watches bool, data []byte, fds []int) error {
	r, err := parseRequest(data, len(fds), h.listsDir)
	if err == nil && watches != (r.Op == "watch" || r.Op == "unwatch") {
		err = fmt.Errorf("%s request on the wrong socket", r.Op)
	}
	if err != nil {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return &ProtocolError{Err: err}
	}
	switch r.Op {
	case "watch":
		return h.send(sock, h.watch(r, fds[0]))
	case "unwatch":
		_, err := unix.InotifyRmWatch(h.inotify, uint32(r.WD))
		return h.send(sock, reply{Op: "reply", ID: r.ID, Errno: errnoOf(err)})
	case "exec":
		return h.exec(r, os.NewFile(uintptr(fds[0]), "handler stderr"))
	case "kill":
		return h.kill(r)
	case "ready":
		if h.cfg.Ready != nil {
			h.cfg.Ready()
		}
		return h.send(sock, reply{Op: "reply", ID: r.ID})
	case "dump":
		// Our pid: the one in the pid file, that systemd knows.
		r.Facts["pid"] = strconv.Itoa(os.Getpid())
		rep := reply{Op: "reply", ID: r.ID}
		if err := lifecycle.WriteDump(h.cfg.DumpDir, r.Facts); err != nil {
			rep.Errno, rep.Error = errnoOf(err), err.Error()
		}
		return h.send(sock, rep)
	case "stats":
		if h.cfg.Stats != nil {
			h.cfg.Stats(r.Stats, r.Syncs)
		}
		return h.send(sock, reply{Op: "reply", ID: r.ID})
	case "notify":
		if h.cfg.Notify != nil {
			h.cfg.Notify(r.Word)
		}
		return h.send(sock, reply{Op: "reply", ID: r.ID})
	case "status":
		h.status.Set(r.Word)
		return h.send(sock, reply{Op: "reply", ID: r.ID})
	}
	return &ProtocolError{Err: fmt.Errorf("unknown request %q", r.Op)}
}

// watch resolves r.Rel beneath the watch dir without following a symlink,
// checks that it is the directory the worker sent open, and watches it.
// ESTALE tells the worker the path no longer leads to its directory (a
// race with a rename that its queued events explain).
func (h *helper) watch(r *request, dfd int) reply {
	defer unix.Close(dfd)
	path := r.Rel
	if path == "" {
		path = "."
	}
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	var fd int
	var err error
	for tries := 0; ; tries++ {
		fd, err = unix.Openat2(h.root, path, &how)
		if (err != unix.EINTR && err != unix.EAGAIN) || tries == 100 {
			break
		}
	}
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.ELOOP), errors.Is(err, unix.EXDEV):
		return reply{Op: "reply", ID: r.ID, Errno: int(unix.ESTALE)}
	case err != nil:
		return reply{Op: "reply", ID: r.ID, Errno: errnoOf(err)}
	}
	defer unix.Close(fd)
	var have, want unix.Stat_t
	if err := unix.Fstat(fd, &have); err != nil {
		return reply{Op: "reply", ID: r.ID, Errno: errnoOf(err)}
	}
	if err := unix.Fstat(dfd, &want); err != nil {
		return reply{Op: "reply", ID: r.ID, Errno: errnoOf(err)}
	}
	if have.Dev != want.Dev || have.Ino != want.Ino {
		return reply{Op: "reply", ID: r.ID, Errno: int(unix.ESTALE)}
	}
	wd, err := unix.InotifyAddWatch(h.inotify, "/proc/self/fd/"+strconv.Itoa(fd), r.Mask)
	if err != nil {
		return reply{Op: "reply", ID: r.ID, Errno: errnoOf(err)}
	}
	return reply{Op: "reply", ID: r.ID, WD: int32(wd)}
}

// exec starts the handler the invocation names, built from the helper's
// own configuration, and answers with its handle; its end comes later as
// an "exit" message.
func (h *helper) exec(r *request, stderr *os.File) error {
	if _, err := handlers.Argv(h.cfg.Handler, *r.Inv); err != nil {
		stderr.Close()
		return &ProtocolError{Err: err}
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.mu.Lock()
	h.issued++
	handle := h.issued
	h.running[handle] = cancel
	h.mu.Unlock()
	// The handle goes out before the exit can: the worker learns of the
	// run before its end.
	if err := h.send(h.sock, reply{Op: "reply", ID: r.ID, Handle: handle}); err != nil {
		cancel()
		stderr.Close()
		return err
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer stderr.Close()
		exit, err := h.local.Run(ctx, *r.Inv, r.Env, stderr)
		h.mu.Lock()
		delete(h.running, handle)
		h.mu.Unlock()
		cancel()
		msg := reply{Op: "exit", Handle: handle, Code: exit.Code, Signal: exit.Signal}
		if err != nil {
			msg.Code, msg.Error = -1, err.Error()
		}
		h.send(h.sock, msg)
	}()
	return nil
}

// kill ends the run of a handle. A handle never given out is a violation;
// one that has ended already is not (the exit may be on its way).
func (h *helper) kill(r *request) error {
	h.mu.Lock()
	cancel, running := h.running[r.Handle]
	issued := r.Handle <= h.issued
	h.mu.Unlock()
	if !issued {
		return &ProtocolError{Err: fmt.Errorf("kill of handle %d, never given out", r.Handle)}
	}
	if running {
		cancel()
	}
	return h.send(h.sock, reply{Op: "reply", ID: r.ID})
}

// stopHandlers kills every running handler and waits for them.
func (h *helper) stopHandlers() {
	h.mu.Lock()
	for _, cancel := range h.running {
		cancel()
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// send writes r to sock: one Sendmsg is one whole datagram, whichever
// goroutine sends.
func (h *helper) send(sock int, r reply) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := unix.Sendmsg(sock, b, nil, nil, 0); err != nil && !errors.Is(err, unix.EPIPE) {
		return fmt.Errorf("privilege separation: write to the worker: %w", err)
	}
	return nil
}

// parseRights returns the descriptors a datagram carried.
func parseRights(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, &ProtocolError{Err: fmt.Errorf("control message: %w", err)}
	}
	var fds []int
	for _, m := range msgs {
		got, err := unix.ParseUnixRights(&m)
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			return nil, &ProtocolError{Err: fmt.Errorf("control message: %w", err)}
		}
		fds = append(fds, got...)
	}
	return fds, nil
}

func errnoOf(err error) int {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return int(errno)
	}
	if err != nil {
		return int(unix.EIO)
	}
	return 0
}
