package api

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Socket is where the control socket listens and who may connect.
type Socket struct {
	Path string
	// Mode is the socket file's mode (--socket-mod); connecting takes
	// write permission.
	Mode fs.FileMode
	// UID and GID own the socket file (--socket-own); -1 keeps ours.
	UID, GID int
}

// DefaultMode lets only the socket's owner connect. clsync leaves the
// socket as the umask makes it (0755 under the usual 022, which lets every
// local user stop the agent); we do not.
const DefaultMode fs.FileMode = 0o600

// maxSocketPath is sun_path's size on Linux (104 on the BSDs, which the
// kernel then refuses with a message of its own).
const maxSocketPath = 108

// Listener is a listening control socket; Close removes its file.
type Listener struct {
	*net.UnixListener
	path string
	ino  uint64
}

// Listen makes the control socket: the mode and owner are set before the
// socket appears at its path (it is made under a temporary name beside it
// and renamed), a stale socket (no agent answers on it) is replaced, and a
// live agent's socket, or any other file, is left alone with an error.
func Listen(sock Socket) (*Listener, error) {
	path := sock.Path
	if len(path) >= maxSocketPath {
		return nil, fmt.Errorf("control socket %s: %w: a socket path has at most %d bytes", path, syscall.EINVAL, maxSocketPath-1)
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("control socket %s: %s: %w", path, dir, syscall.ENOTDIR)
	}
	if err := checkOld(path); err != nil {
		return nil, err
	}
	// Short, so that it fits wherever path does.
	tmp := filepath.Join(dir, ".clsync."+strconv.FormatInt(int64(os.Getpid()), 36))
	if fi, err := os.Lstat(tmp); err == nil && fi.Mode()&fs.ModeSocket != 0 {
		os.Remove(tmp) // left by a run that died with our pid
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, unwrapOp(err))
	}
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (*Listener, error) {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	mode := sock.Mode
	if mode == 0 {
		mode = DefaultMode
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return fail(err)
	}
	if sock.UID >= 0 || sock.GID >= 0 {
		if err := os.Lchown(tmp, sock.UID, sock.GID); err != nil {
			return fail(err)
		}
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(tmp, &st); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	return &Listener{UnixListener: ln, path: path, ino: uint64(st.Ino)}, nil
}

// checkOld refuses a path that holds anything but a stale socket.
func checkOld(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("control socket %s: %w", path, err)
	case fi.Mode()&fs.ModeSocket == 0:
		return fmt.Errorf("control socket %s: %w: not a socket, left alone", path, syscall.EEXIST)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("control socket %s: %w: another agent serves it", path, syscall.EADDRINUSE)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("control socket %s: %w", path, unwrapOp(err))
	}
	// Stale: nobody listens. It is replaced by the rename.
	return nil
}

// Close stops listening and removes the socket file, if it is still ours
// (a successor may have replaced it).
func (l *Listener) Close() error {
	err := l.UnixListener.Close()
	var st syscall.Stat_t
	if syscall.Lstat(l.path, &st) == nil && uint64(st.Ino) == l.ino {
		os.Remove(l.path)
	}
	return err
}

// Path is where the socket is.
func (l *Listener) Path() string { return l.path }

// unwrapOp drops net.OpError's repetition of the address.
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Err
	}
	return err
}
