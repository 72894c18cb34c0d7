// Package beneath reads a tree the way a watcher's paths must be read:
// relative to a root that contains no symlink, never following a symlink in
// any component. A directory replaced by a symlink between an event and its
// sync must not lead a stat or a walk out of the tree: "a/b" is the entry b
// of the directory a, or nothing.
package beneath

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// join is root/rel; rel "" is the root itself.
func join(root, rel string) string {
	switch {
	case rel == "":
		return root
	case root == "/":
		return "/" + rel
	}
	return root + "/" + rel
}

// Lstat returns the status of rel below root without following a symlink:
// a symlink in the last component is described itself; one in any other
// component is an error (ELOOP), as is a component that is not a directory
// (ENOTDIR) or missing (ENOENT).
func Lstat(root, rel string) (unix.Stat_t, error) {
	var st unix.Stat_t
	if rel == "" {
		err := unix.Lstat(root, &st)
		return st, err
	}
	dir, name := "", rel
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		dir, name = rel[:i], rel[i+1:]
	}
	fd, err := openDir(root, dir, true)
	if err != nil {
		return st, err
	}
	defer unix.Close(fd)
	err = unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	return st, err
}

// Gone tells whether an error of Lstat, OpenDir or Walk means that the path
// is not (or no longer) in the tree as named: removed, or a component
// replaced by a file or a symlink.
func Gone(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP)
}

// OpenDir opens the directory rel below root for reading, without following
// a symlink in any component.
func OpenDir(root, rel string) (*os.File, error) {
	fd, err := openDir(root, rel, false)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: join(root, rel), Err: err}
	}
	return os.NewFile(uintptr(fd), join(root, rel)), nil
}

// IsDir tells whether rel is a directory reached from root through
// directories only.
func IsDir(root, rel string) bool {
	st, err := Lstat(root, rel)
	return err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
}

// SkipDir, returned by a WalkFunc for a directory, skips what lies below it.
var SkipDir = fs.SkipDir

// WalkFunc is called for every object below the start of a walk, in lexical
// order within each directory, with its path relative to the walk's root
// (see Walk) and whether it is a directory (symlinks are not).
type WalkFunc func(rel string, isDir bool) error

// Walk calls fn for rel below root (if it is a directory: only then is
// there anything below it) and for everything below it, depth first, never
// following a symlink. Objects that vanish while it walks are skipped: the
// change that removed them has an event of its own. Any other error, or
// fn's, ends the walk.
func Walk(root, rel string, fn WalkFunc) error {
	st, err := Lstat(root, rel)
	if err != nil {
		if Gone(err) {
			return nil
		}
		return &fs.PathError{Op: "lstat", Path: join(root, rel), Err: err}
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if err := fn(rel, isDir); err != nil || !isDir {
		if err == SkipDir {
			return nil
		}
		return err
	}
	return walkDir(root, rel, fn)
}

func walkDir(root, rel string, fn WalkFunc) error {
	f, err := OpenDir(root, rel)
	if err != nil {
		if Gone(err) {
			return nil
		}
		return err
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		if Gone(err) {
			return nil
		}
		return err
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	for _, e := range entries {
		child := e.Name()
		if rel != "" {
			child = rel + "/" + child
		}
		// Where the file system leaves the type out, ReadDir asks lstat.
		isDir := e.IsDir()
		switch err := fn(child, isDir); {
		case err == SkipDir:
			continue
		case err != nil:
			return err
		}
		if isDir {
			if err := walkDir(root, child, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// Count returns the number of entries in the subtree below the directory
// rel, counting no further than past limit (it returns limit+1 then).
// Symlinks are not followed; what cannot be read counts as empty.
func Count(root, rel string, limit int) int { return count(root, rel, limit, true) }

// Entries returns the number of entries of the directory rel (0 if it
// cannot be read).
func Entries(root, rel string) int { return count(root, rel, math.MaxInt-1, false) }

func count(root, rel string, limit int, deep bool) int {
	fd, err := openDir(root, rel, false)
	if err != nil {
		return 0
	}
	c := counter{limit: limit, deep: deep, buf: make([]byte, 64<<10)}
	c.dir(fd)
	return min(c.n, c.limit+1)
}

// counter counts a subtree depth first, each directory opened relative to
// its parent's descriptor (held only along the current path): one open per
// directory, not a lookup of its whole path.
type counter struct {
	n, limit int
	deep     bool
	buf      []byte
}

// dir counts the entries below the directory fd and closes it.
func (c *counter) dir(fd int) {
	defer unix.Close(fd)
	var subdirs []string
	for c.n <= c.limit {
		got, err := unix.Getdents(fd, c.buf)
		if err != nil || got <= 0 {
			break
		}
		c.n += dirents(fd, c.buf[:got], func(name string, isDir bool) {
			if c.deep && isDir {
				subdirs = append(subdirs, name)
			}
		})
	}
	for _, name := range subdirs {
		if c.n > c.limit {
			return
		}
		sub, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == nil {
			c.dir(sub)
		}
	}
}
