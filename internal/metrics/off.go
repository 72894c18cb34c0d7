//go:build !metrics

package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/clsync-go/clsync/agent"
)

var errOff = errors.New("--metrics-listen: this clsync was built without metrics (make build METRICS=1)")

// Available refuses: this build has no metrics.
func Available() error { return errOff }

// Start refuses: this build has no metrics.
func Start(context.Context, string, func() agent.Stats) (func(time.Duration, error), error) {
	return nil, errOff
}
