package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// daemonEnv tells a re-executed clsync that it is the daemon (-b) and which
// file descriptor to report readiness on. Go cannot fork(2) a running
// program, so -b starts the program again in a new session instead.
const daemonEnv = "CLSYNC_GO_DAEMON_READY_FD"

// readyByte is what the daemon writes once its watches are in place;
// anything else (EOF) means it failed, and its exit code is the parent's.
const readyByte = 'R'

// daemonize starts this program again, detached, with the same arguments,
// and returns once the daemon is watching (nil: exit 0, like clsync's
// parent) or has failed (its exit code). The daemon's stderr stays ours
// until then, so a start-up error is still seen; use -Y syslog for later.
func daemonize(argv []string, stderr io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("background: find own executable: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("background: %w", err)
	}
	defer r.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		w.Close()
		return fmt.Errorf("background: %w", err)
	}
	defer devnull.Close()
	cmd := exec.Command(self, argv...)
	cmd.Env = append(os.Environ(), daemonEnv+"=3")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, stderr
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return fmt.Errorf("background: start daemon: %w", err)
	}
	buf := make([]byte, 1)
	if n, _ := r.Read(buf); n == 1 && buf[0] == readyByte {
		return cmd.Process.Release()
	}
	if err := cmd.Wait(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() > 0 {
			// The daemon said why on our stderr already.
			return &exitStatus{code: ee.ExitCode()}
		}
		return fmt.Errorf("background: the daemon failed to start: %w", err)
	}
	return fmt.Errorf("background: the daemon exited before it was ready")
}

// daemonReady returns the function a daemon calls once it is watching; it
// does nothing in a process that is not a -b daemon.
func daemonReady() func() {
	fd, err := strconv.Atoi(os.Getenv(daemonEnv))
	if err != nil {
		return func() {}
	}
	os.Unsetenv(daemonEnv) // handlers must not inherit it
	syscall.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), "daemon-ready")
	return func() {
		if f == nil {
			return
		}
		f.Write([]byte{readyByte})
		f.Close()
		f = nil
	}
}
