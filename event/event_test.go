package event

import "testing"

// Masks of synthetic items use inotify's values, as clsync's handlers
// expect: IN_CREATE 0x100, IN_MODIFY 0x2, IN_ATTRIB 0x4, IN_DELETE 0x200,
// IN_ISDIR 0x40000000. A kernel mask is passed on untouched.
func TestEventMask(t *testing.T) {
	for _, c := range []struct {
		it   Event
		want uint32
	}{
		{Event{Op: Create}, 0x100},
		{Event{Op: Create | Modify}, 0x102},
		{Event{Op: Attrib, IsDir: true}, 0x40000004},
		{Event{Op: Remove, IsDir: true}, 0x40000200},
		{Event{Op: Rescan, IsDir: true}, 0x40000100},
		{Event{Op: Remove | Create}, 0x300},
		{Event{Op: Create, Mask: 0x80}, 0x80},
	} {
		if got := c.it.EventMask(); got != c.want {
			t.Errorf("EventMask(%s dir=%v mask=%#x) = %#x, want %#x", c.it.Op, c.it.IsDir, c.it.Mask, got, c.want)
		}
	}
}

func TestRecursive(t *testing.T) {
	for _, c := range []struct {
		ev   Event
		want bool
	}{
		{Event{Op: Remove}, false},
		{Event{Op: Remove, IsDir: true}, true},
		{Event{Op: Remove, Mask: InDelete | InIsDir}, true},
		{Event{Op: Remove | Create}, true},
		{Event{Op: Create}, false},
		{Event{Op: Create, IsDir: true}, true},
		{Event{Op: Rescan}, true},
		{Event{Op: Attrib, IsDir: true}, false},
		{Event{Op: Modify}, false},
	} {
		if got := c.ev.Recursive(); got != c.want {
			t.Errorf("%+v: Recursive %v, want %v", c.ev, got, c.want)
		}
	}
}
