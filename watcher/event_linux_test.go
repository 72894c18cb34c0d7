//go:build linux

package watcher

import (
	"testing"

	"github.com/clsync-go/clsync/event"
	"golang.org/x/sys/unix"
)

// The masks handlers get on every OS are inotify's own bits.
func TestEventMaskBitsAreInotifys(t *testing.T) {
	for _, c := range []struct{ ours, kernel uint32 }{
		{event.InModify, unix.IN_MODIFY}, {event.InAttrib, unix.IN_ATTRIB}, {event.InCreate, unix.IN_CREATE},
		{event.InDelete, unix.IN_DELETE}, {event.InIsDir, unix.IN_ISDIR},
	} {
		if c.ours != c.kernel {
			t.Errorf("event mask bit %#x, inotify's is %#x", c.ours, c.kernel)
		}
	}
}
