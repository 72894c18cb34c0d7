//go:build linux

package watcher

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// A kernel limit as the user can raise it. In a user namespace the lower of
// the global sysctl and the namespace's own limit binds.
type limit struct {
	name  string // the sysctl to raise
	value int    // -1: unknown
}

// WatchLimit is how many kernel watches this user may hold, -1 when it
// cannot be read.
func WatchLimit() int {
	return readLimit("/proc/sys/fs/inotify/max_user_watches", "/proc/sys/user/max_inotify_watches").value
}

func readLimit(global, perNS string) limit {
	g := limit{name: sysctlName(global), value: readInt(global)}
	ns := readInt(perNS)
	if ns >= 0 && (g.value < 0 || ns < g.value) {
		return limit{name: sysctlName(perNS), value: ns}
	}
	return g
}

func sysctlName(path string) string {
	return strings.ReplaceAll(strings.TrimPrefix(path, "/proc/sys/"), "/", ".")
}

func readInt(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return -1
	}
	return v
}

// watchLimits is what an ENOSPC message needs.
type watchLimits struct {
	limit
	needed int // directories the tree needs watched (a lower bound)
}

func (w *treeWatcher) watchError(op, rel string, err error) error {
	return watchError(op, w.abs(rel), err, func() watchLimits {
		return watchLimits{
			limit: readLimit("/proc/sys/fs/inotify/max_user_watches", "/proc/sys/user/max_inotify_watches"),
			// One more walk, only on this failure path, so that the message
			// can say how far to raise the limit.
			needed: max(w.countDirs(time.Now().Add(10*time.Second)), w.watches()+1),
		}
	})
}

// watchError explains a failure to open, watch or list the directory path so
// that the user can fix it; limits is only called for ENOSPC.
func watchError(op, path string, err error, limits func() watchLimits) error {
	we := &WatchError{Op: op, Path: path, Err: err}
	switch {
	case op == "watch" && errors.Is(err, unix.ENOSPC):
		l := limits()
		if l.value < 0 {
			we.Detail = fmt.Sprintf("inotify watch limit reached (%s unreadable; this tree needs at least %d): raise it with sysctl",
				l.name, l.needed)
			break
		}
		// Other inotify users of this uid keep what they hold (less than
		// value), so value+needed leaves room for the whole tree.
		we.Detail = fmt.Sprintf("inotify watch limit reached (%s=%d; this tree needs at least %d): raise it with sysctl %s=%d",
			l.name, l.value, l.needed, l.name, l.value+l.needed)
	case errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM):
		we.Detail = err.Error() + ": changes below this directory cannot be seen; give the watcher read access to it or exclude it from monitoring"
	case errors.Is(err, unix.ENOMEM):
		we.Detail = err.Error() + ": the kernel could not allocate an inotify watch"
	}
	return we
}

// initError explains an inotify_init1 failure. EMFILE is either limit:
// inotify instances of this uid or open files of this process.
func initError(err error, instances limit, nofile uint64) error {
	if !errors.Is(err, unix.EMFILE) {
		return fmt.Errorf("inotify_init1: %w", err)
	}
	return fmt.Errorf("inotify_init1: %w: too many inotify instances (%s=%d) or open files (RLIMIT_NOFILE=%d): raise it with sysctl %s=%d or raise the open files limit",
		err, instances.name, instances.value, nofile, instances.name, max(2*instances.value, 128))
}

func initInotify() (int, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err == nil {
		return fd, nil
	}
	var rl unix.Rlimit
	_ = unix.Getrlimit(unix.RLIMIT_NOFILE, &rl)
	return -1, initError(err, readLimit("/proc/sys/fs/inotify/max_user_instances", "/proc/sys/user/max_inotify_instances"), rl.Cur)
}
