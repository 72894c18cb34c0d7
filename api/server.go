package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/clsync-go/clsync/agent"
)

// Agent is what the control socket acts on (an *agent.Agent).
type Agent interface {
	Stats() agent.Stats
	Flush(ctx context.Context) (int, error)
	Pause()
	Resume()
	Rescan()
	WaitIdle(ctx context.Context) error
	Dump(dir string) error
	Stop()
}

// ServerConfig is what Serve needs.
type ServerConfig struct {
	Agent    Agent
	Identity Identity
	// Version is clsync-go's ("0.1.0"): the version reply says clsync
	// 0.4.5 and it.
	Version string
	// KnownOption tells whether name is an option (the set verb).
	KnownOption func(name string) bool
	Logger      *slog.Logger
}

// Limits on clients: they are local, but one that floods or hangs must not
// cost the agent more than this.
const (
	// MaxClients are the connections served at once; more are closed at
	// once.
	MaxClients = 64
	// writeTimeout drops a client that does not read its replies.
	writeTimeout = 10 * time.Second
)

type server struct {
	cfg ServerConfig
	log *slog.Logger
}

// Serve answers the clients that connect to ln until ctx ends, then closes
// ln and every connection.
func Serve(ctx context.Context, ln net.Listener, cfg ServerConfig) error {
	s := &server{cfg: cfg, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	// The clients end with ctx or with Serve, whatever ends it (an
	// accept error included): cancel runs before the wait.
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	slots := make(chan struct{}, MaxClients)
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of descriptors for a while: try again soon.
				s.log.Warn("control socket: accept", "err", err)
				select {
				case <-time.After(100 * time.Millisecond):
				case <-ctx.Done():
				}
				continue
			}
			return fmt.Errorf("control socket: accept: %w", err)
		}
		select {
		case slots <- struct{}{}:
		default:
			s.log.Warn("control socket: too many clients, one refused", "max", MaxClients)
			c.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			s.serveConn(ctx, c)
		}()
	}
}

// serveConn answers one client until it quits, breaks the protocol or
// goes, or ctx ends. A reader goroutine notices the client going while a
// request (wait-idle) runs, and ends that request.
func (s *server) serveConn(ctx context.Context, c net.Conn) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	lines := make(chan string)
	go func() {
		defer cancel()
		sc := bufio.NewScanner(c)
		sc.Buffer(make([]byte, 512), maxLine)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		if err := sc.Err(); err != nil && ctx.Err() == nil {
			s.log.Debug("control socket: client dropped", "err", err)
		}
	}()
	cmdNum := uint64(0)
	send := func(m Message) bool {
		c.SetWriteDeadline(time.Now().Add(writeTimeout))
		_, err := c.Write([]byte(m.Line()))
		return err == nil
	}
	// clsync greets with its own negotiation request.
	if !send(Message{Num: cmdNum, ID: CmdNegotiation, Args: strconv.Itoa(protocolVersion), Text: greetingDescription}) {
		return
	}
	for {
		var line string
		select {
		case line = <-lines:
		case <-ctx.Done():
			return
		}
		m, err := ParseMessage(line)
		if err != nil {
			// clsync drops a client that sends a line it cannot parse.
			s.log.Debug("control socket: client dropped", "err", err)
			return
		}
		reply, last := s.answer(ctx, m)
		sent := send(reply)
		if reply.ID == ReplyDie {
			// Answered first: the agent's end closes this connection.
			s.cfg.Agent.Stop()
		}
		if !sent || last {
			return
		}
	}
}

// answer is the reply to m, and whether the connection ends after it.
func (s *server) answer(ctx context.Context, m Message) (reply Message, last bool) {
	r := func(id int, args, text string) Message { return Message{Num: m.Num, ID: id, Args: args, Text: text} }
	ack := func(id int, text string) Message { return r(id, "", text) }
	einval := func(why string) Message {
		return r(ReplyEINVAL, fmt.Sprintf("%d %d", m.ID, m.Num),
			fmt.Sprintf("Rejected command: id == %d; num == %d. Invalid arguments: %s.", m.ID, m.Num, why))
	}
	fail := func(funct, args string, err error) Message {
		errno := errnoOf(err)
		return r(ReplyECustom, str(funct)+" "+str(args)+" "+strconv.Itoa(int(errno))+" "+str(err.Error()),
			fmt.Sprintf("%s(%s): Error #%d: %q.", funct, args, errno, err.Error()))
	}
	a := s.cfg.Agent
	switch m.ID {
	case CmdNegotiation:
		f := Fields(m.Args)
		if len(f) == 0 {
			return einval("Protocol id expected"), false
		}
		if f[0] != strconv.Itoa(protocolVersion) {
			return einval("Incorrect protocol id"), false
		}
		return r(ReplyNegotiation, f[0], greetingDescription), false
	case ReplyNegotiation:
		return r(ReplyAck, fmt.Sprintf("%d %d", m.ID, m.Num), fmt.Sprintf("Acknowledged command: id == %d; num == %d.", m.ID, m.Num)), false
	case CmdVersion:
		// clsync 0.4.5 says "0 5 -release": its minor is off by one.
		rev := ".5-clsync-go-" + s.cfg.Version
		return r(ReplyVersion, "0 4 "+rev, "clsync v0.4"+rev), false
	case CmdInfo:
		// clsync prints its flag arrays' addresses as "flags"; there is
		// nothing a client could read in them, so they are 0.
		block, label := s.cfg.Identity.ConfigBlock, s.cfg.Identity.Label
		return r(ReplyInfo, str(block)+" "+str(label)+" 0 0",
			fmt.Sprintf("config_block == %q; label == %q; flags == 0; flags_set == 0.", clean(block), clean(label))), false
	case CmdDump:
		f := Fields(m.Args)
		if len(f) != 1 || !filepath.IsAbs(f[0]) {
			return einval("an absolute directory path expected"), false
		}
		if err := a.Dump(f[0]); err != nil {
			return fail("sync_dump", f[0], err), false
		}
		return ack(ReplyDump, "Ready"), false
	case CmdSet:
		f := Fields(m.Args)
		if len(f) != 2 {
			return einval("a key and a value expected"), false
		}
		// clsync 0.4.5 answers "Set" and changes nothing, or exits on a
		// value it rejects. Options are read at start; we say so.
		err := &errnoError{syscall.EPERM, "options are set at start-up; restart with the new value"}
		if s.cfg.KnownOption == nil || !s.cfg.KnownOption(f[0]) {
			err = &errnoError{syscall.ENOENT, "no such option"}
		}
		return fail("ctx_set", f[0], err), false
	case CmdStatus:
		st := NewStatus(a.Stats(), s.cfg.Identity, time.Now())
		b, err := json.Marshal(st)
		if err != nil {
			return fail("status", "", err), false
		}
		return r(ReplyStatus, string(b), "Status"), false
	case CmdFlush:
		n, err := a.Flush(ctx)
		if err != nil {
			return fail("flush", "", err), false
		}
		return r(ReplyFlush, strconv.Itoa(n), fmt.Sprintf("Synced %d paths.", n)), false
	case CmdPause:
		a.Pause()
		return ack(ReplyPause, "Paused"), false
	case CmdResume:
		a.Resume()
		return ack(ReplyResume, "Resumed"), false
	case CmdResync:
		a.Rescan()
		return ack(ReplyResync, "Full resync queued"), false
	case CmdWaitIdle:
		if err := a.WaitIdle(ctx); err != nil {
			return fail("wait_idle", "", err), false
		}
		return ack(ReplyWaitIdle, "Idle"), false
	case CmdDie:
		// clsync stops without a word; we answer, then stop.
		return ack(ReplyDie, "Okay :("), true
	case CmdQuit:
		return ack(ReplyBye, "Bye."), true
	}
	if m.ID >= maxCmdID {
		return r(ReplyInvalidCmdID, strconv.FormatUint(m.Num, 10), "Invalid command id. Required: 0 <= cmd_id < 1000."), false
	}
	return r(ReplyUnknownCmd, fmt.Sprintf("%d %d", m.ID, m.Num), "Unknown command."), false
}

// errnoError is a refusal with its errno and a message of its own.
type errnoError struct {
	errno syscall.Errno
	msg   string
}

func (e *errnoError) Error() string { return e.msg }
func (e *errnoError) Unwrap() error { return e.errno }

// errnoOf is the errno an error reply carries.
func errnoOf(err error) syscall.Errno {
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno):
		return errno
	case errors.Is(err, agent.ErrPaused):
		return syscall.EBUSY
	case errors.Is(err, agent.ErrNotRunning), errors.Is(err, context.Canceled):
		return syscall.ECANCELED
	case errors.Is(err, fs.ErrNotExist):
		return syscall.ENOENT
	case errors.Is(err, fs.ErrExist):
		return syscall.EEXIST
	case errors.Is(err, fs.ErrPermission):
		return syscall.EACCES
	}
	return syscall.EIO
}
