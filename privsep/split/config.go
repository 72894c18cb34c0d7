package split

import (
	"encoding/json"
	"log/slog"
	"os"

	"github.com/clsync-go/clsync/handlers"
	"github.com/clsync-go/clsync/privsep"
)

// HelperConfig is what the privileged helper needs; it comes from the
// helper's own parsing of the command line, never from the worker.
type HelperConfig struct {
	// Argv is the worker's command line (ours, without the program name).
	Argv     []string
	WatchDir string
	// ListsDir is -L; "" makes a private one the worker owns.
	ListsDir   string
	KeepLists  bool // -U: a private lists dir stays
	StatusFile string
	PidFile    string
	// DumpDir is --dump-dir: the helper writes signal 29's dump there.
	DumpDir string
	// Handler is the helper's own handler configuration: the program, the
	// templates, the hooks and how handlers are confined.
	Handler handlers.Config
	// Worker is who the worker runs as and where.
	Worker WorkerIdentity
	// Env is the worker's environment.
	Env []string
	// Ready is called when the worker has its watches in place.
	Ready func()
	// Notify sends the worker's systemd notifications: we are the main
	// pid systemd listens to.
	Notify func(state string)
	// Stats, when set, gets the worker's figures and syncs as it pushes
	// them (the helper serves the metrics endpoint: the worker has no
	// network).
	Stats func(stats json.RawMessage, syncs []SyncResult)
	// Control, when set, is the control socket's listening descriptor
	// (-s): the worker accepts its clients, so that their requests are
	// parsed by the confined process, never by the helper.
	Control *os.File
	// Drop, when set, lowers the helper's own privileges once the worker
	// runs (--privileged-uid/gid, -C).
	Drop   func() error
	Logger *slog.Logger
}

// WorkerIdentity is the worker's credentials and namespaces.
type WorkerIdentity struct {
	UID, GID uint32
	// ReadTree keeps CAP_DAC_READ_SEARCH (ambient) so that the worker can
	// list and stat a tree its uid cannot read; its Landlock domain then
	// limits that to the watch dir.
	ReadTree bool
	// Detach are the namespaces of its own the worker gets.
	Detach privsep.Namespaces
}

// ProtocolError is a request no correct worker sends: the helper killed
// everything and stopped.
type ProtocolError struct{ Err error }

func (e *ProtocolError) Error() string {
	return "privilege separation: the worker sent a forbidden request, everything was stopped: " + e.Err.Error()
}
func (e *ProtocolError) Unwrap() error { return e.Err }

// Confinement is what the worker locks itself into once it has read its
// configuration, before it starts the run.
type Confinement struct {
	WatchDir  string   // read only (the tree, which CAP_DAC_READ_SEARCH opens)
	ReadFiles []string // read only: the rules file, re-read on SIGHUP
	ListsDir  string   // read and write: the list files for the handlers
	// Seccomp loads the worker's system call allow-list (--seccomp-filter).
	Seccomp        bool
	PermitMprotect bool
}
