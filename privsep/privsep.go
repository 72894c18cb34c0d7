// Package privsep decides the privileges of the processes clsync starts.
// Credentials in Go are process-wide, so the agent never changes its own
// thread's uid for a handler: a handler gets its ids, namespaces and
// sandbox from the kernel at exec time, or from the exec shim
// (privsep/sandbox) when a step needs code between fork and exec.
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
	// Sandbox is applied by the exec shim; its ids are set from the
	// fields above.
	Sandbox sandbox.Spec
}

// Namespaces name new namespaces for a process.
type Namespaces struct{ Net, IPC, UTS bool }

// Any tells whether ns asks for a namespace.
func (ns Namespaces) Any() bool { return ns.Net || ns.IPC || ns.UTS }

// HandlerCommand is the command that runs argv as id: in a process group
// of its own, so that stopping a sync kills everything it started, through
// the exec shim when the sandbox asks for anything.
func HandlerCommand(id Identity, argv []string) *exec.Cmd {
	attr := &syscall.SysProcAttr{Setpgid: true}
	SetNamespaces(attr, id.Detach)
	spec := id.Sandbox
	if spec.IsZero() {
		if id.SetUID || id.SetGID {
			attr.Credential = credential(id)
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.SysProcAttr = attr
		return cmd
	}
	if id.SetUID || id.SetGID {
		c := credential(id)
		spec.UID, spec.GID, spec.Groups, spec.SetIDs = c.Uid, c.Gid, c.Groups, true
	}
	shim := sandbox.Command("/proc/self/exe", spec, argv)
	cmd := exec.Command(shim[0], shim[1:]...)
	cmd.Args[0] = argv[0]
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
