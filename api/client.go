package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Client talks to an agent's control socket. It is not safe for
// concurrent use; open one per goroutine.
type Client struct {
	conn net.Conn
	r    *bufio.Reader
	num  uint64
}

// Error is the agent's refusal of a request.
type Error struct {
	// ID is the reply's id (ReplyECustom, ReplyEINVAL, ...).
	ID int
	// Errno is the cause the agent gives (ReplyECustom), 0 if none.
	Errno   syscall.Errno
	Message string
}

func (e *Error) Error() string { return e.Message }

// Unwrap makes errors.Is(err, syscall.EBUSY) and the like work.
func (e *Error) Unwrap() error {
	if e.Errno == 0 {
		return nil
	}
	return e.Errno
}

// Dial connects to the control socket at path and reads its greeting.
func Dial(ctx context.Context, path string) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, unwrapOp(err))
	}
	c := &Client{conn: conn, r: bufio.NewReaderSize(conn, maxLine)}
	stop := c.bind(ctx)
	defer stop()
	m, err := c.read()
	if err == nil && (m.ID != CmdNegotiation || strings.TrimSpace(m.Args) != strconv.Itoa(protocolVersion)) {
		err = fmt.Errorf("%w: greeting %q", ErrSyntax, m.Line())
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	return c, nil
}

// Close ends the connection with clsync's quit.
func (c *Client) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c.Call(ctx, CmdQuit, "")
	return c.conn.Close()
}

// bind makes the end of ctx interrupt the connection's reads and writes.
func (c *Client) bind(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
}

func (c *Client) read() (Message, error) {
	line, err := c.r.ReadString('\n')
	if errors.Is(err, io.EOF) {
		return Message{}, ErrClosed
	}
	if err != nil {
		return Message{}, err
	}
	return ParseMessage(strings.TrimSuffix(line, "\n"))
}

// Call sends the command id with args and returns the reply. A reply that
// refuses (EINVAL, ECUSTOM, unknown command...) is an *Error.
func (c *Client) Call(ctx context.Context, id int, args string) (Message, error) {
	stop := c.bind(ctx)
	defer stop()
	c.num++
	num := c.num
	if _, err := c.conn.Write([]byte(Message{Num: num, ID: id, Args: args}.Line())); err != nil {
		return Message{}, c.ctxErr(ctx, err)
	}
	for {
		m, err := c.read()
		if err != nil {
			return Message{}, c.ctxErr(ctx, err)
		}
		if m.Num != num {
			continue // not ours: a reply to an earlier call given up on
		}
		return m, refusal(m)
	}
}

func (c *Client) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// refusal is the error a reply carries, nil if it carries none.
func refusal(m Message) error {
	switch m.ID {
	case ReplyECustom:
		e := &Error{ID: m.ID, Message: m.Text}
		// "FUNCT\x03/ ARGS\x03/ ERRNO MESSAGE\x03/"
		if f := strings.Split(m.Args, argEnd); len(f) >= 3 {
			errno, msg, _ := strings.Cut(strings.TrimPrefix(f[2], " "), " ")
			if n, err := strconv.Atoi(errno); err == nil {
				e.Errno, e.Message = syscall.Errno(n), msg
			}
		}
		return e
	case ReplyUnknownCmd, ReplyInvalidCmdID, ReplyEINVAL, ReplyEEXIST, ReplyEPERM:
		errno := map[int]syscall.Errno{ReplyUnknownCmd: syscall.ENOSYS, ReplyInvalidCmdID: syscall.EINVAL,
			ReplyEINVAL: syscall.EINVAL, ReplyEEXIST: syscall.EEXIST, ReplyEPERM: syscall.EPERM}[m.ID]
		return &Error{ID: m.ID, Errno: errno, Message: m.Text}
	}
	return nil
}

// expect checks that m answers with want.
func expect(m Message, want int) error {
	if m.ID != want {
		return fmt.Errorf("%w: reply %d (%q), want %d", ErrSyntax, m.ID, m.Text, want)
	}
	return nil
}

// simple calls a verb whose reply carries nothing.
func (c *Client) simple(ctx context.Context, id, want int) error {
	m, err := c.Call(ctx, id, "")
	if err != nil {
		return err
	}
	return expect(m, want)
}

// Status is the agent's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	m, err := c.Call(ctx, CmdStatus, "")
	if err == nil {
		err = expect(m, ReplyStatus)
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal([]byte(m.Args), &s); err != nil {
		return s, fmt.Errorf("status: %w", err)
	}
	return s, nil
}

// Flush syncs every change made so far, now; it returns the paths synced.
func (c *Client) Flush(ctx context.Context) (int, error) {
	m, err := c.Call(ctx, CmdFlush, "")
	if err == nil {
		err = expect(m, ReplyFlush)
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(m.Args))
	if err != nil {
		return 0, fmt.Errorf("%w: flush reply %q", ErrSyntax, m.Args)
	}
	return n, nil
}

// Pause holds syncing; Resume lets it go on.
func (c *Client) Pause(ctx context.Context) error  { return c.simple(ctx, CmdPause, ReplyPause) }
func (c *Client) Resume(ctx context.Context) error { return c.simple(ctx, CmdResume, ReplyResume) }

// Resync queues a full resync.
func (c *Client) Resync(ctx context.Context) error { return c.simple(ctx, CmdResync, ReplyResync) }

// WaitIdle returns once every change made before the call is synced and
// nothing waits or runs.
func (c *Client) WaitIdle(ctx context.Context) error {
	return c.simple(ctx, CmdWaitIdle, ReplyWaitIdle)
}

// Die stops the agent (clsync's die).
func (c *Client) Die(ctx context.Context) error { return c.simple(ctx, CmdDie, ReplyDie) }

// Dump has the agent dump its state into dir.
func (c *Client) Dump(ctx context.Context, dir string) error {
	m, err := c.Call(ctx, CmdDump, dir)
	if err != nil {
		return err
	}
	return expect(m, ReplyDump)
}

// ErrClosed is a call on a connection the agent closed.
var ErrClosed = errors.New("the agent closed the connection")
