package api

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestListenModeAndOwner(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sock")
	ln, err := Listen(Socket{Path: path, UID: -1, GID: -1})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&fs.ModeSocket == 0 || fi.Mode().Perm() != DefaultMode {
		t.Fatalf("socket %v, %v: want a socket with mode %v", fi.Mode(), err, DefaultMode)
	}
	ln.Close()
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Close left the socket: %v", err)
	}
	if os.Getuid() != 0 {
		t.Skip("chown needs root")
	}
	ln, err = Listen(Socket{Path: path, Mode: 0o660, UID: 65534, GID: 65534})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, _ = os.Lstat(path)
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o660 || st.Uid != 65534 || st.Gid != 65534 {
		t.Fatalf("socket %v owned by %d:%d, want 0660 65534:65534", fi.Mode(), st.Uid, st.Gid)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("the directory holds %d entries, want the socket alone", len(entries))
	}
}

func TestListenRefusals(t *testing.T) {
	dir := t.TempDir()
	if _, err := Listen(Socket{Path: filepath.Join(dir, "missing", "sock"), UID: -1, GID: -1}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket in a missing directory: %v", err)
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("keep"), 0o644)
	if _, err := Listen(Socket{Path: file, UID: -1, GID: -1}); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("socket over a file: %v", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "keep" {
		t.Error("the file was touched")
	}
	if _, err := Listen(Socket{Path: "/" + strings.Repeat("x", maxSocketPath), UID: -1, GID: -1}); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("too long a path: %v", err)
	}

	path := filepath.Join(dir, "sock")
	live, err := Listen(Socket{Path: path, UID: -1, GID: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(Socket{Path: path, UID: -1, GID: -1}); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("socket of a live agent: %v", err)
	}
	if c, err := net.Dial("unix", path); err != nil {
		t.Errorf("the live agent's socket was harmed: %v", err)
	} else {
		c.Close()
	}
	live.Close()
}

func TestListenReplacesStale(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sock")
	// An agent that died: its socket file stays, nobody listens.
	dead, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	dead.SetUnlinkOnClose(false)
	dead.Close()
	ln, err := Listen(Socket{Path: path, UID: -1, GID: -1})
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	defer ln.Close()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	// A successor's socket is not removed by our Close.
	os.Remove(path)
	next, err := Listen(Socket{Path: path, UID: -1, GID: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	ln.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("our Close removed the successor's socket: %v", err)
	}
}
