// Package privsep decides the privileges of the processes clsync starts.
// Credentials in Go are process-wide, so the agent never changes its own
// thread's uid for a handler: a handler gets its ids and namespaces from
// the kernel at fork, and its sandbox from the thread it is forked from
// (privsep/sandbox's Launcher).
package privsep

import (
	"os/exec"
	"syscall"

	"github.com/clsync-go/clsync/privsep/sandbox"
)

// Identity is how a handler runs: its user and group (--sync-handler-uid,
// --sync-handler-gid) with the user's supplementary groups, its namespaces
// (--detach-*) and its sandbox. A zero Identity keeps the agent's own.
type Identity struct {
	UID, GID       uint32
	SetUID, SetGID bool
	// Groups are the supplementary groups with SetUID (nil: none).
	Groups []uint32
	// Detach are the namespaces of its own the handler gets.
	Detach Namespaces
	// Sandbox is what the handler's launcher confines it to.
	Sandbox sandbox.Spec
}

// Namespaces name new namespaces for a process.
type Namespaces struct{ Net, IPC, UTS bool }

// Any tells whether ns asks for a namespace.
func (ns Namespaces) Any() bool { return ns.Net || ns.IPC || ns.UTS }

// HandlerCommand is the command that runs argv as id, in a process group
// of its own, so that stopping a sync kills everything it started. Start
// it with id's launcher when id has a sandbox.
func HandlerCommand(id Identity, argv []string) *exec.Cmd {
	attr := &syscall.SysProcAttr{Setpgid: true}
	SetNamespaces(attr, id.Detach)
	if id.SetUID || id.SetGID {
		attr.Credential = credential(id)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = attr
	return cmd
}

// credential is id's ids; a uid change drops the agent's supplementary
// groups for the user's, as login does.
func credential(id Identity) *syscall.Credential {
	cred := &syscall.Credential{Uid: uint32(syscall.Getuid()), Gid: uint32(syscall.Getgid()), NoSetGroups: !id.SetUID}
	if id.SetUID {
		cred.Uid = id.UID
		cred.Groups = id.Groups
		if cred.Groups == nil {
			cred.Groups = []uint32{}
		}
	}
	if id.SetGID {
		cred.Gid = id.GID
	}
	return cred
}
