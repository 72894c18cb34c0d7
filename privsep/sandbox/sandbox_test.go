package sandbox

import (
	"testing"
)

func TestMountNamespaceAndIsZero(t *testing.T) {
	for _, c := range []struct {
		s          Spec
		ns, isZero bool
	}{
		{Spec{}, false, true},
		{Spec{PivotRoot: PivotAuto}, false, true}, // no chroot: nothing to pivot into
		{Spec{Chroot: "/j"}, false, false},
		{Spec{Chroot: "/j", PivotRoot: PivotOff}, false, false},
		{Spec{Chroot: "/j", PivotRoot: PivotDirect}, true, false},
		{Spec{ReadOnlyRoot: true}, true, false},
		{Spec{Mountpoints: []string{"/"}}, true, false},
		{Spec{ForbidDevices: true}, true, false},
		{Spec{Landlock: true}, false, false},
		{Spec{NoNewPrivs: true}, false, false},
		{Spec{Bounding: 1}, false, false},
	} {
		if got := c.s.MountNamespace(); got != c.ns {
			t.Errorf("%+v.MountNamespace() = %v", c.s, got)
		}
		if got := c.s.IsZero(); got != c.isZero {
			t.Errorf("%+v.IsZero() = %v", c.s, got)
		}
	}
}
