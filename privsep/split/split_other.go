//go:build !linux

package split

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"

	"github.com/clsync-go/clsync/handlers"
)

var errUnsupported = errors.New("--splitting=process is not supported on " + runtime.GOOS)

// Available refuses: the split needs Linux.
func Available() error { return errUnsupported }

// Serve refuses: the helper needs Linux.
func Serve(context.Context, HelperConfig, <-chan os.Signal) (int, error) { return 0, errUnsupported }

// Worker is the worker's side of the protocol (Linux only).
type Worker struct{ ListsDir string }

// Connect refuses: the worker needs Linux.
func Connect() (*Worker, error) { return nil, errUnsupported }

func (*Worker) Instance() (int, error)                      { return -1, errUnsupported }
func (*Worker) AddWatch(int, string, uint32) (int32, error) { return -1, errUnsupported }
func (*Worker) RemoveWatch(int32) error                     { return errUnsupported }
func (*Worker) Ready()                                      {}
func (*Worker) Notify(string)                               {}
func (*Worker) SetStatus(string) error                      { return errUnsupported }
func (*Worker) Run(context.Context, handlers.Invocation, []string, io.Writer) (handlers.Exit, error) {
	return handlers.Exit{}, errUnsupported
}

// Confine refuses: the worker needs Linux.
func Confine(Confinement, *slog.Logger) error { return errUnsupported }

// PushStats refuses: the worker needs Linux.
func (*Worker) PushStats(json.RawMessage, []SyncResult) error { return errUnsupported }

// ControlListener refuses: the worker needs Linux.
func (*Worker) ControlListener() (net.Listener, error) { return nil, errUnsupported }

// WriteDump refuses: the worker needs Linux.
func (*Worker) WriteDump(string, map[string]string) error { return errUnsupported }
