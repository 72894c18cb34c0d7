// Package sdnotify tells systemd how the agent is doing (sd_notify(3)):
// READY=1 once the destination equals the source, STATUS=, WATCHDOG=1,
// STOPPING=1, as datagrams to $NOTIFY_SOCKET.
package sdnotify

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Notifier sends to one notification socket.
type Notifier struct {
	conn *net.UnixConn
}

// FromEnv is the notifier $NOTIFY_SOCKET names (an abstract socket when
// it starts with "@"), nil when it is unset: not under systemd, or not
// Type=notify.
func FromEnv() (*Notifier, error) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil, nil
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("NOTIFY_SOCKET %s: %w", path, err)
	}
	return &Notifier{conn: conn}, nil
}

// Notify sends state ("READY=1", "STATUS=...", several separated by
// newlines) in one datagram.
func (n *Notifier) Notify(state string) error {
	if _, err := n.conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("notify systemd: %w", err)
	}
	return nil
}

// WatchdogInterval is how often to send WATCHDOG=1: half of
// $WATCHDOG_USEC, as sd_watchdog_enabled(3) advises, when the watchdog is
// meant for pid (WATCHDOG_PID unset or equal); 0 when there is none.
func WatchdogInterval(pid int) time.Duration {
	usec, err := strconv.ParseUint(os.Getenv("WATCHDOG_USEC"), 10, 63)
	if err != nil || usec == 0 {
		return 0
	}
	if p := os.Getenv("WATCHDOG_PID"); p != "" && p != strconv.Itoa(pid) {
		return 0
	}
	return time.Duration(usec) * time.Microsecond / 2
}

// Valid tells whether state is one a worker may have its helper send:
// lines of READY=1, STOPPING=1, WATCHDOG=1 or STATUS=, nothing else (no
// MAINPID=, no FDSTORE=).
func Valid(state string) bool {
	for _, line := range strings.Split(state, "\n") {
		switch line {
		case "READY=1", "STOPPING=1", "WATCHDOG=1":
			continue
		}
		status, ok := strings.CutPrefix(line, "STATUS=")
		if !ok || len(status) > 200 || strings.ContainsRune(status, 0) {
			return false
		}
	}
	return true
}
