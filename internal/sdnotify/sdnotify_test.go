package sdnotify

import (
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestNotifyReachesTheSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	n, err := FromEnv()
	if err != nil || n == nil {
		t.Fatalf("FromEnv: %v, %v", n, err)
	}
	if err := n.Notify("READY=1\nSTATUS=running"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	ln.SetReadDeadline(time.Now().Add(5 * time.Second))
	k, err := ln.Read(buf)
	if err != nil || string(buf[:k]) != "READY=1\nSTATUS=running" {
		t.Fatalf("read %q, %v", buf[:k], err)
	}
}

func TestNoSocketNoNotifier(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if n, err := FromEnv(); n != nil || err != nil {
		t.Fatalf("FromEnv = %v, %v", n, err)
	}
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "missing"))
	if _, err := FromEnv(); err == nil {
		t.Fatal("a missing socket was accepted")
	}
}

func TestWatchdogInterval(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "4000000")
	t.Setenv("WATCHDOG_PID", "")
	if got := WatchdogInterval(7); got != 2*time.Second {
		t.Errorf("interval %s, want 2s", got)
	}
	t.Setenv("WATCHDOG_PID", strconv.Itoa(8))
	if got := WatchdogInterval(7); got != 0 {
		t.Errorf("another pid's watchdog: %s", got)
	}
	t.Setenv("WATCHDOG_USEC", "x")
	if got := WatchdogInterval(8); got != 0 {
		t.Errorf("bad WATCHDOG_USEC: %s", got)
	}
}

func TestValid(t *testing.T) {
	for state, want := range map[string]bool{"READY=1": true, "WATCHDOG=1": true, "STOPPING=1": true, "STATUS=running: 3 syncs": true,
		"MAINPID=1": false, "STATUS=a\nREADY=1": true, "STATUS=a\nMAINPID=1": false, "": false, "READY=1\nMAINPID=1": false, "FDSTORE=1": false} {
		if Valid(state) != want {
			t.Errorf("Valid(%q) = %v", state, !want)
		}
	}
}
