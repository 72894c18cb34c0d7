// Package privsep decides the privileges of the processes clsync starts.
// Credentials in Go are process-wide, so the agent never changes its own
// thread's uid; a handler gets its uid and gid from the kernel at exec time.
package privsep

import "syscall"

// Identity is a user and group a handler runs as (--sync-handler-uid,
// --sync-handler-gid). A zero Identity keeps the agent's own.
type Identity struct {
	UID, GID       uint32
	SetUID, SetGID bool
}

// HandlerAttr is the SysProcAttr for a handler process: a process group of
// its own, so that stopping a sync kills everything it started, and the
// identity's credentials. Supplementary groups are dropped with a uid
// change, as setuid programs expect.
func HandlerAttr(id Identity) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if !id.SetUID && !id.SetGID {
		return attr
	}
	cred := &syscall.Credential{Uid: uint32(syscall.Getuid()), Gid: uint32(syscall.Getgid()), NoSetGroups: !id.SetUID}
	if id.SetUID {
		cred.Uid = id.UID
	}
	if id.SetGID {
		cred.Gid = id.GID
	}
	attr.Credential = cred
	return attr
}
