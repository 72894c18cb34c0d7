package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/clsync-go/clsync/api"
)

// CtlCommand is the word that makes the command line a `clsync ctl`.
const CtlCommand = "ctl"

// Ctl is a parsed `clsync ctl` command line; Help asks for its usage.
type Ctl struct {
	api.Ctl
	Help bool
}

// ParseCtl parses the arguments after "ctl":
// --socket PATH [--json] [--timeout DURATION] VERB.
func ParseCtl(argv []string) (Ctl, error) {
	var c Ctl
	fl := pflag.NewFlagSet("clsync ctl", pflag.ContinueOnError)
	fl.SetOutput(io.Discard)
	fl.StringVarP(&c.Socket, "socket", "s", "", "")
	fl.BoolVar(&c.JSON, "json", false, "")
	fl.DurationVar(&c.Timeout, "timeout", 0, "")
	fl.BoolVarP(&c.Help, "help", "h", false, "")
	if err := fl.Parse(argv); err != nil {
		return c, usageErrorf("ctl: %v", err)
	}
	if c.Help {
		return c, nil
	}
	args := fl.Args()
	switch {
	case len(args) != 1:
		return c, usageErrorf("ctl: one command expected (%s), got %d", strings.Join(api.CtlVerbs, ", "), len(args))
	case !slices.Contains(api.CtlVerbs, args[0]):
		return c, usageErrorf("ctl: unknown command %q (%s)", args[0], strings.Join(api.CtlVerbs, ", "))
	case c.Socket == "":
		return c, usageErrorf("ctl: --socket PATH is required (the agent's -s)")
	case c.JSON && args[0] != "status":
		return c, usageErrorf("ctl: --json is for status only")
	case c.Timeout < 0:
		return c, usageErrorf("ctl: --timeout %s is negative", c.Timeout)
	}
	c.Verb = args[0]
	return c, nil
}

// WriteCtlHelp writes `clsync ctl`'s usage.
func WriteCtlHelp(w io.Writer) {
	fmt.Fprint(w, `Usage: clsync ctl --socket PATH [--json] [--timeout DURATION] COMMAND

Talks to a running clsync through its control socket (-s).

Commands:
  status      the agent's state, queues, last sync, watches, initial sync
              (--json: as JSON)
  flush       sync every change made so far, now, whatever the delays say
  pause       hold syncing (changes keep being collected), like --standby-file
  resume      let syncing go on
  resync      queue a full resync (as SIGUSR2)
  wait-idle   return once every change made before it is synced and nothing
              waits or runs (for deploy scripts; see --timeout)

Options:
  -s, --socket PATH         the agent's control socket
      --json                status as JSON
      --timeout DURATION    give up after DURATION (e.g. 30s, 5m); default none

Exit codes: 0 done; 2 no such socket; 13 permission denied; 16 syncing is
paused (flush, wait-idle); 22 invalid arguments; 110 --timeout reached;
111 no agent listens on the socket; 5 the sync failed (flush).
`)
}
