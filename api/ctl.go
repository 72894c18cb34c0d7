package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"syscall"
	"time"
)

// CtlVerbs are what `clsync ctl` does.
var CtlVerbs = []string{"status", "flush", "pause", "resume", "resync", "wait-idle"}

// Ctl is one `clsync ctl` command.
type Ctl struct {
	Socket string
	Verb   string
	// JSON prints the status as JSON.
	JSON bool
	// Timeout bounds the whole command (wait-idle waits for as long as the
	// agent is busy); 0: no bound.
	Timeout time.Duration
}

// Run does cmd against the agent at cmd.Socket, printing what there is to
// print on out.
func (cmd Ctl) Run(ctx context.Context, out io.Writer) error {
	if cmd.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cmd.Timeout)
		defer cancel()
	}
	c, err := Dial(ctx, cmd.Socket)
	if err != nil {
		return cmd.timeout(ctx, err)
	}
	defer c.Close()
	switch cmd.Verb {
	case "status":
		st, err := c.Status(ctx)
		if err != nil {
			return cmd.timeout(ctx, err)
		}
		if cmd.JSON {
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			return enc.Encode(st)
		}
		return st.WriteText(out, time.Now())
	case "flush":
		_, err = c.Flush(ctx)
	case "pause":
		err = c.Pause(ctx)
	case "resume":
		err = c.Resume(ctx)
	case "resync":
		err = c.Resync(ctx)
	case "wait-idle":
		err = c.WaitIdle(ctx)
	default:
		return fmt.Errorf("ctl: unknown command %q", cmd.Verb)
	}
	return cmd.timeout(ctx, err)
}

// timeout says which bound ended the command.
func (cmd Ctl) timeout(ctx context.Context, err error) error {
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("ctl %s: no answer within --timeout %s: %w", cmd.Verb, cmd.Timeout, syscall.ETIMEDOUT)
	}
	if err != nil {
		return fmt.Errorf("ctl %s: %w", cmd.Verb, err)
	}
	return nil
}
