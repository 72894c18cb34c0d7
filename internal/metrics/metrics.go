//go:build metrics

// Package metrics serves the agent's figures to Prometheus
// (--metrics-listen), with the official client, from a registry of its
// own. It is built with the "metrics" tag (make build METRICS=1): the
// client and net/http it brings double the binary and add ~6 MiB to the
// agent's resident memory even when unused, which every agent would pay.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/clsync-go/clsync/agent"
)

// Available is nil: this build serves metrics.
func Available() error { return nil }

// Start listens on addr and serves the figures of stats at /metrics until
// ctx ends; observe records each sync. A port in use is an error now,
// before the agent starts.
func Start(ctx context.Context, addr string, stats func() agent.Stats) (observe func(time.Duration, error), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen %s: %w", addr, err)
	}
	m := newMetrics(stats, time.Now())
	go m.serve(ctx, ln)
	return m.observeSync, nil
}

// metrics are the agent's collectors.
type metrics struct {
	reg      *prometheus.Registry
	duration prometheus.Histogram
	results  *prometheus.CounterVec
}

// newMetrics registers the collectors; stats is read at each scrape,
// started is when the agent started (the age of the mirror before a first
// sync).
func newMetrics(stats func() agent.Stats, started time.Time) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "clsync_sync_duration_seconds", Help: "How long each sync (a handler run with its retries) took.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 16),
		}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clsync_syncs_total", Help: "Syncs by result (ok, failed).",
		}, []string{"result"}),
	}
	m.results.WithLabelValues("ok")
	m.results.WithLabelValues("failed")
	counter := func(name, help string, f func(agent.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(f(stats())) })
	}
	gauge := func(name, help string, f func(agent.Stats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(stats()) })
	}
	m.reg.MustRegister(m.duration, m.results,
		counter("clsync_events_total", "File system events read from the kernel.", func(s agent.Stats) uint64 { return s.Events }),
		counter("clsync_rescans_total", "Events that rescan a whole directory (created or moved in, overflow re-walk, resync).", func(s agent.Stats) uint64 { return s.Rescans }),
		counter("clsync_overflows_total", "Kernel event queue overflows, each repaired by a re-walk.", func(s agent.Stats) uint64 { return s.Overflows }),
		gauge("clsync_queued_paths", "Paths waiting to be synced.", func(s agent.Stats) float64 { return float64(s.Queued) }),
		gauge("clsync_watches", "Kernel watches held.", func(s agent.Stats) float64 { return float64(s.Watches) }),
		gauge("clsync_oldest_pending_seconds", "How long the change that waits longest has been waiting (0: none waits).", func(s agent.Stats) float64 {
			if s.Load.Oldest.IsZero() {
				return 0
			}
			return time.Since(s.Load.Oldest).Seconds()
		}),
		gauge("clsync_paused", "1 while an operator holds syncing (clsync ctl pause).", func(s agent.Stats) float64 {
			if s.Paused {
				return 1
			}
			return 0
		}),
		gauge("clsync_watches_limit", "fs.inotify.max_user_watches (the limit for all of this user's agents; -1 unknown).", func(s agent.Stats) float64 { return float64(s.WatchLimit) }),
		gauge("clsync_seconds_since_last_successful_sync", "Seconds since a sync last succeeded (since the start before the first).", func(s agent.Stats) float64 {
			last := s.LastSuccess
			if last.IsZero() {
				last = started
			}
			return time.Since(last).Seconds()
		}),
		gauge("clsync_initial_sync_done", "1 once the initial sync has made the destination equal to the source.", func(s agent.Stats) float64 {
			if s.InitialDone {
				return 1
			}
			return 0
		}),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// observeSync records one sync's duration and result.
func (m *metrics) observeSync(took time.Duration, err error) {
	m.duration.Observe(took.Seconds())
	if err != nil {
		m.results.WithLabelValues("failed").Inc()
		return
	}
	m.results.WithLabelValues("ok").Inc()
}

// serve answers /metrics on ln until ctx ends.
func (m *metrics) serve(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
