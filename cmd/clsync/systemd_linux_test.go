package main

import (
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clsync-go/clsync/internal/treecmp"
)

// Under Type=notify, systemd hears READY=1 only once the destination
// equals the source, watchdog pings from the run loop, and STOPPING=1.
func TestSystemdNotify(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
	}{{"one process", nil}, {"split", []string{"--splitting=process", "-u0", "-g0"}}} {
		t.Run(tc.name, func(t *testing.T) {
			needRsync(t)
			src, dst := tempTree(t)
			writeTree(t, src, 100, 30)
			path := filepath.Join(t.TempDir(), "notify")
			ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			states := make(chan string, 1000)
			go func() {
				buf := make([]byte, 4096)
				for {
					n, err := ln.Read(buf)
					if err != nil {
						return
					}
					states <- string(buf[:n])
				}
			}()
			t.Setenv("NOTIFY_SOCKET", path)
			t.Setenv("WATCHDOG_USEC", "200000")
			a := startAgent(t, append([]string{"-Mrsyncdirect", "-W", src, "-D", dst, "-w0", "-t0", "-T0"}, tc.extra...)...)
			watchdogs, ready := 0, false
			deadline := time.After(60 * time.Second)
			for !ready || watchdogs < 3 {
				select {
				case s := <-states:
					switch {
					case s == "WATCHDOG=1":
						watchdogs++
					case strings.HasPrefix(s, "READY=1"):
						ready = true
						// Nothing changes the source: at READY=1 the
						// destination must already be equal to it.
						if diffs, err := treecmp.Diff(src, dst); err != nil || len(diffs) > 0 {
							t.Fatalf("READY=1 before the destination equals the source: %v %d differences", err, len(diffs))
						}
					}
				case <-a.exited:
					t.Fatalf("clsync exited with %d: %s", a.code, a.stderr)
				case <-deadline:
					t.Fatalf("no READY=1 and 3 watchdog pings in 60 s (ready %v, %d pings): %s", ready, watchdogs, a.stderr)
				}
			}
			a.signal(t, syscall.SIGTERM)
			a.wait(t, 10*time.Second)
			for stopping := false; !stopping; {
				select {
				case s := <-states:
					stopping = s == "STOPPING=1"
				case <-time.After(5 * time.Second):
					t.Fatal("no STOPPING=1")
				}
			}
		})
	}
}
