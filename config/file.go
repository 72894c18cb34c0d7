package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// NoConfig given as the config file (-H /NULL/) means: read no config file.
const NoConfig = "/NULL/"

// Load reads and parses the config file at path. Errors from the system
// wrap its *fs.PathError, so errors.Is(err, fs.ErrNotExist) and
// errors.Is(err, fs.ErrPermission) work; invalid content is an *Error.
func Load(path string) (*KeyFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	// As GLib does: reading a FIFO or a device such as /dev/zero given by
	// mistake would block or never end.
	if !fi.Mode().IsRegular() {
		return nil, &Error{Path: path, Msg: "not a regular file"}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	return Parse(data, path)
}

// SearchPaths returns the files tried, in order, when no config file is
// given: clsync's CONFIG_PATHS (configuration.h), whose relative entry is
// taken from the home directory. With no home directory that entry is left
// out; clsync would try "/.clsync.conf".
func SearchPaths(home string) []string {
	paths := []string{
		"/etc/clsync/clsync.conf",
		"/etc/clsync.conf",
		"/usr/local/etc/clsync/clsync.conf",
		"/usr/local/etc/clsync.conf",
	}
	if home != "" {
		paths = append([]string{filepath.Join(home, ".clsync.conf")}, paths...)
	}
	return paths
}

// Find returns the first of paths that exists, or "" when none does. Only
// that file is to be read, as clsync reads only one.
//
// clsync goes on to the next file when one cannot be opened or parsed. Find
// does not: a file that is there is the config the admin wrote, and
// silently running with another one, or none, would hide the mistake. So
// the path is returned, and Load reports why it cannot be used, and an
// error other than "does not exist" while looking is returned as well.
func Find(paths []string) (string, error) {
	for _, p := range paths {
		_, err := os.Stat(p)
		if err == nil {
			return p, nil
		}
		// ENOTDIR: a component of the path is a file, e.g. HOME=/dev/null.
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return "", fmt.Errorf("config file: %w", err)
		}
		// A dangling symlink is still something the admin put there.
		if _, err := os.Lstat(p); err == nil {
			return p, nil
		}
	}
	return "", nil
}
