package sandbox

import (
	"encoding/json"
	"os"
	"reflect"
	"runtime"
	"testing"
)

// TestMain lets the test binary serve as the shim, as the agent's binary
// does in production.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == ExecCommand {
		// The harder case: Main on a thread that is not the thread-group
		// leader, whose /proc/self shows the leader's mounts and root.
		runtime.LockOSThread()
		code := make(chan int)
		go func() { code <- Main(os.Args[2:]) }()
		os.Exit(<-code)
	}
	os.Exit(m.Run())
}

func TestCommand(t *testing.T) {
	s := Spec{UID: 65534, GID: 65534, Groups: []uint32{5}, SetIDs: true, Bounding: 1 << 3,
		Landlock: true, ReadDirs: []string{"/src"}, WriteDirs: []string{"/dst dir"},
		Chroot: "/jail", PivotRoot: PivotAutoRO, Mountpoints: []string{"/"}, ForbidDevices: true}
	argv := Command("/proc/self/exe", s, []string{"rsync", "-a", "--", "x"})
	if len(argv) != 8 || argv[0] != "/proc/self/exe" || argv[1] != ExecCommand || argv[3] != "--" ||
		!reflect.DeepEqual(argv[4:], []string{"rsync", "-a", "--", "x"}) {
		t.Fatalf("Command = %q", argv)
	}
	var back Spec
	if err := json.Unmarshal([]byte(argv[2]), &back); err != nil || !reflect.DeepEqual(back, s) {
		t.Fatalf("spec round trip: %+v, %v; want %+v", back, err, s)
	}
}

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
		{Spec{SetIDs: true}, false, false},
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
