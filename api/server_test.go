package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clsync-go/clsync/agent"
)

// scripted is an Agent that records what it is asked. The protocol is
// tested here; cmd/clsync tests the verbs on a running agent's tree.
type scripted struct {
	mu       sync.Mutex
	calls    []string
	idle     chan struct{} // WaitIdle returns when closed
	idleCtx  chan error    // WaitIdle's end when its ctx ends
	stopped  chan struct{}
	stopOnce sync.Once
}

func newScripted() *scripted {
	return &scripted{idle: make(chan struct{}), idleCtx: make(chan error, 1), stopped: make(chan struct{})}
}

func (a *scripted) record(c string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, c)
}

func (a *scripted) called() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return strings.Join(a.calls, ",")
}

func (a *scripted) Stats() agent.Stats {
	return agent.Stats{State: "running", Queued: 3, Syncs: 2, WatchLimit: 8192}
}
func (a *scripted) Flush(context.Context) (int, error) { a.record("flush"); return 5, nil }
func (a *scripted) Pause()                             { a.record("pause") }
func (a *scripted) Resume()                            { a.record("resume") }
func (a *scripted) Rescan()                            { a.record("rescan") }
func (a *scripted) WaitIdle(ctx context.Context) error {
	a.record("wait-idle")
	select {
	case <-a.idle:
		return nil
	case <-ctx.Done():
		a.idleCtx <- ctx.Err()
		return ctx.Err()
	}
}
func (a *scripted) Dump(dir string) error {
	a.record("dump " + dir)
	if dir == "/nonexistent" {
		return &errnoError{syscall.ENOENT, "no such directory"}
	}
	return nil
}
func (a *scripted) Stop() { a.record("stop"); a.stopOnce.Do(func() { close(a.stopped) }) }

// serve starts a server for a on a socket in a temporary directory.
func serve(t *testing.T, a Agent) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sock")
	ln, err := Listen(Socket{Path: path, UID: -1, GID: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ln, ServerConfig{Agent: a, Version: "9.9.9", KnownOption: func(n string) bool { return n == "label" }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		ln.Close()
	})
	return path
}

// conn is a raw client: lines in, lines out.
type conn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, path string) *conn {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	k := &conn{t: t, c: c, r: bufio.NewReader(c)}
	if got := k.line(); got != "0 0 0 :Protocol version is 0." {
		t.Fatalf("greeting %q", got)
	}
	return k
}

func (k *conn) line() string {
	k.t.Helper()
	k.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	s, err := k.r.ReadString('\n')
	if err != nil {
		k.t.Fatalf("read: %v (got %q)", err, s)
	}
	return strings.TrimSuffix(s, "\n")
}

func (k *conn) ask(req string) string {
	k.t.Helper()
	if _, err := io.WriteString(k.c, req+"\n"); err != nil {
		k.t.Fatal(err)
	}
	return k.line()
}

// closed tells whether the server closed the connection.
func (k *conn) closed() bool {
	k.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := k.r.ReadString('\n')
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// The replies clsync 0.4.5 gives, byte for byte where they are sane (the
// cmd/clsync test puts them beside Debian's clsync's).
func TestServerClsyncVerbs(t *testing.T) {
	a := newScripted()
	k := dial(t, serve(t, a))
	for _, c := range []struct{ req, want string }{
		{"1 200", "1 300 0 4 .5-clsync-go-9.9.9 :clsync v0.4.5-clsync-go-9.9.9"},
		{"2 201", "2 301 \x03/ \x03/ 0 0 :config_block == \"\"; label == \"\"; flags == 0; flags_set == 0."},
		{"3 0 0", "3 1 0 :Protocol version is 0."},
		{"4 1 0", "4 150 1 4 :Acknowledged command: id == 1; num == 4."},
		{"5 0 1", "5 162 0 5 :Rejected command: id == 0; num == 5. Invalid arguments: Incorrect protocol id."},
		{"6 999", "6 160 999 6 :Unknown command."},
		{"7 1000", "7 161 7 :Invalid command id. Required: 0 <= cmd_id < 1000."},
		{"8 210", "8 160 210 8 :Unknown command."},
		{"9 202 /tmp/d :Dump", "9 302  :Ready"},
		{"10 202 /nonexistent", "10 199 sync_dump\x03/ /nonexistent\x03/ 2 no such directory\x03/ :sync_dump(/nonexistent): Error #2: \"no such directory\"."},
		{"11 202 relative", "11 162 202 11 :Rejected command: id == 202; num == 11. Invalid arguments: an absolute directory path expected."},
		{"12 211 label\x03/ x\x03/", "12 199 ctx_set\x03/ label\x03/ 1 options are set at start-up; restart with the new value\x03/ :ctx_set(label): Error #1: \"options are set at start-up; restart with the new value\"."},
		{"13 211 nosuch\x03/ x\x03/", "13 199 ctx_set\x03/ nosuch\x03/ 2 no such option\x03/ :ctx_set(nosuch): Error #2: \"no such option\"."},
	} {
		if got := k.ask(c.req); got != c.want {
			t.Errorf("%q:\n got %q\nwant %q", c.req, got, c.want)
		}
	}
	if got := a.called(); got != "dump /tmp/d,dump /nonexistent" {
		t.Errorf("agent calls %q", got)
	}
	if got := k.ask("14 250"); got != "14 350  :Bye." || !k.closed() {
		t.Errorf("quit: %q, connection left open", got)
	}
}

func TestServerOurVerbs(t *testing.T) {
	a := newScripted()
	path := serve(t, a)
	k := dial(t, path)
	for _, c := range []struct{ req, want string }{
		{"1 221", "1 321 5 :Synced 5 paths."},
		{"2 222", "2 322  :Paused"},
		{"3 223", "3 323  :Resumed"},
		{"4 224", "4 324  :Full resync queued"},
	} {
		if got := k.ask(c.req); got != c.want {
			t.Errorf("%q: got %q, want %q", c.req, got, c.want)
		}
	}
	m, err := ParseMessage(k.ask("5 220"))
	var st Status
	if err != nil || m.ID != ReplyStatus || json.Unmarshal([]byte(m.Args), &st) != nil || st.State != "running" || st.Syncs != 2 || st.WatchLimit != 8192 {
		t.Fatalf("status %+v (%v): %+v", m, err, st)
	}
	// wait-idle answers once the agent is idle, and a client that goes
	// meanwhile ends the wait.
	if _, err := io.WriteString(k.c, "6 225\n"); err != nil {
		t.Fatal(err)
	}
	other := dial(t, path)
	if got := other.ask("1 200"); !strings.HasPrefix(got, "1 300 ") {
		t.Fatalf("a second client while the first waits: %q", got)
	}
	io.WriteString(other.c, "2 225\n")
	for strings.Count(a.called(), "wait-idle") < 2 {
		time.Sleep(time.Millisecond)
	}
	other.c.Close()
	if err := <-a.idleCtx; !errors.Is(err, context.Canceled) {
		t.Fatalf("the gone client's wait ended with %v", err)
	}
	close(a.idle)
	if got := k.line(); got != "6 325  :Idle" {
		t.Fatalf("wait-idle: %q", got)
	}
	if got := a.called(); got != "flush,pause,resume,rescan,wait-idle,wait-idle" {
		t.Errorf("agent calls %q", got)
	}
	if got := k.ask("7 240"); got != "7 340  :Okay :(" {
		t.Errorf("die: %q", got)
	}
	<-a.stopped
}

func TestServerDropsBadClients(t *testing.T) {
	a := newScripted()
	path := serve(t, a)
	good := dial(t, path)

	garbage := dial(t, path)
	io.WriteString(garbage.c, "garbage\n")
	if !garbage.closed() {
		t.Error("a client sending garbage was kept")
	}
	long := dial(t, path)
	io.WriteString(long.c, "1 200 "+strings.Repeat("x", 2*maxLine)+"\n")
	if !long.closed() {
		t.Error("a client sending an endless line was kept")
	}
	half := dial(t, path)
	io.WriteString(half.c, "1 20")
	half.c.Close()

	// A client that floods without reading fills its socket; the others
	// are served meanwhile.
	flood := dial(t, path)
	go func() {
		req := []byte(strings.Repeat("1 220\n", 1000))
		for {
			if _, err := flood.c.Write(req); err != nil {
				return
			}
		}
	}()
	for i := range 50 {
		if got := good.ask("1 200"); !strings.HasPrefix(got, "1 300 ") {
			t.Fatalf("request %d of a good client: %q", i, got)
		}
	}
}

func TestServerBoundsClients(t *testing.T) {
	path := serve(t, newScripted())
	var clients []*conn
	for range MaxClients {
		clients = append(clients, dial(t, path))
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 64)); !errors.Is(err, io.EOF) {
		t.Fatalf("client %d: read %d, %v, want the connection closed", MaxClients+1, n, err)
	}
	clients[0].ask("1 250")
	clients[0].closed()
	// The slot is free once the server has ended that connection.
	for {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(c)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, _ := r.ReadString('\n')
		c.Close()
		if line != "" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestClient(t *testing.T) {
	a := newScripted()
	path := serve(t, a)
	ctx := t.Context()
	c, err := Dial(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if st, err := c.Status(ctx); err != nil || st.State != "running" {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	if n, err := c.Flush(ctx); n != 5 || err != nil {
		t.Fatalf("Flush = %d, %v", n, err)
	}
	if err := c.Dump(ctx, "/nonexistent"); !errors.Is(err, syscall.ENOENT) || err.Error() != "no such directory" {
		t.Fatalf("Dump error %v", err)
	}
	if _, err := c.Call(ctx, 999, ""); !errors.Is(err, syscall.ENOSYS) {
		t.Fatalf("unknown command: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := c.WaitIdle(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitIdle past its deadline: %v", err)
	}
	if _, err := Dial(ctx, filepath.Join(t.TempDir(), "none")); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("Dial of a missing socket: %v", err)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Serve ends its clients when it stops on an accept error, not only when
// its context ends.
func TestServeEndsClientsOnAcceptError(t *testing.T) {
	ln, err := Listen(Socket{Path: filepath.Join(t.TempDir(), "sock"), UID: -1, GID: -1})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Serve(context.Background(), ln, ServerConfig{Agent: newScripted()}) }()
	k := dial(t, ln.Path())
	ln.UnixListener.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Serve stopped without an error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve still waits for its clients")
	}
	if !k.closed() {
		t.Error("the client was left connected")
	}
}
