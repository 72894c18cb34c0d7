package caps

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
	"kernel.org/pub/linux/libs/security/libcap/psx"
)

// Drop changes the whole process, every thread including those created
// later, to c and keeps only the capabilities in keep:
//   - real, effective and saved uid and gid become c.UID and c.GID, and
//     the supplementary groups c.Groups; a UID of 0 leaves the uid alone;
//     ids the process has already are not set again;
//   - permitted = effective = keep, the bounding set keep|bounding (what
//     a uid-0 exec may regain: a root handler's needs); inheritable and
//     ambient are emptied. Bits the kernel does not know are ignored.
//
// Capability sets, the bounding set and keepcaps are per thread in the
// kernel, so they go through psx, which runs each call on every thread
// with or without cgo. Go's own setgroups, setresgid and setresuid
// already reach every thread. Drop needs root (CAP_SETPCAP, CAP_SETUID,
// CAP_SETGID). After an error the process may be half dropped and should
// exit.
func Drop(c Creds, keep, bounding Set) error {
	if err := drop(c, keep, keep|bounding); err != nil {
		return fmt.Errorf("drop capabilities: %w", err)
	}
	return nil
}

func drop(c Creds, keep, bounding Set) error {
	// (uid_t)-1 means "unchanged" to the kernel, not a user.
	if c.UID == math.MaxUint32 || c.GID == math.MaxUint32 {
		return errors.New("uid or gid 4294967295 is (uid_t)-1, not an id")
	}
	// Keep the permitted set across the uid change; capset below then
	// cuts it down to keep.
	if err := prctlAll(unix.PR_SET_KEEPCAPS, 1); err != nil {
		return fmt.Errorf("set keepcaps: %w", err)
	}
	// Dropping from the bounding set needs CAP_SETPCAP, so it comes
	// before the uid change and capset take it away.
	last := lastCap()
	for n := 0; n <= last; n++ {
		if bounding.Has(n) {
			continue
		}
		if err := prctlAll(unix.PR_CAPBSET_DROP, uintptr(n)); err != nil {
			return fmt.Errorf("bounding set: drop %v: %w", Set(1)<<n, err)
		}
	}
	if err := prctlAll(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL); err != nil {
		return fmt.Errorf("clear ambient set: %w", err)
	}
	groups := make([]int, len(c.Groups))
	for i, g := range c.Groups {
		groups[i] = int(g)
	}
	// A process that already has the ids (a worker dropping only its
	// capabilities) may lack CAP_SETGID: it changes nothing then.
	if have, err := syscall.Getgroups(); err != nil || !slices.Equal(have, groups) {
		if err := syscall.Setgroups(groups); err != nil {
			return fmt.Errorf("setgroups: %w", err)
		}
	}
	if r, e, s := unix.Getresgid(); r != int(c.GID) || e != int(c.GID) || s != int(c.GID) {
		if err := syscall.Setresgid(int(c.GID), int(c.GID), int(c.GID)); err != nil {
			return fmt.Errorf("setresgid %d: %w", c.GID, err)
		}
	}
	if r, e, s := unix.Getresuid(); c.UID != 0 && (r != int(c.UID) || e != int(c.UID) || s != int(c.UID)) {
		if err := syscall.Setresuid(int(c.UID), int(c.UID), int(c.UID)); err != nil {
			return fmt.Errorf("setresuid %d: %w", c.UID, err)
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(keep), Permitted: uint32(keep)},
		{Effective: uint32(keep >> 32), Permitted: uint32(keep >> 32)},
	}
	// psx.Syscall3 is //go:uintptrescapes, so hdr and data stay put.
	if _, _, e := psx.Syscall3(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return fmt.Errorf("capset %v: %w", keep, e)
	}
	if err := prctlAll(unix.PR_SET_KEEPCAPS, 0); err != nil {
		return fmt.Errorf("clear keepcaps: %w", err)
	}
	return nil
}

// prctlAll runs prctl(option, arg2, 0, 0, 0) on every thread.
func prctlAll(option, arg2 uintptr) error {
	if _, _, e := psx.Syscall6(unix.SYS_PRCTL, option, arg2, 0, 0, 0, 0); e != 0 {
		return e
	}
	return nil
}

// lastCap is the kernel's highest capability number, which may be above
// the name table's on a newer kernel.
func lastCap() int {
	n := 0
	for n < 64 {
		if _, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(n), 0, 0, 0); err != nil {
			break
		}
		n++
	}
	return n - 1
}
