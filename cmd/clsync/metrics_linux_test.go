//go:build metrics

package main

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scrape returns the value of each metric sample line of addr's /metrics.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	var body []byte
	waitFor(t, "the metrics endpoint", func() bool {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, err = io.ReadAll(resp.Body)
		return err == nil && resp.StatusCode == http.StatusOK
	})
	values := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			values[name] = v
		}
	}
	return values
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestMetricsMove(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
	}{{"one process", nil}, {"split: the helper serves what the worker pushes", []string{"--splitting=process", "-u0", "-g0"}}} {
		t.Run(tc.name, func(t *testing.T) { metricsMove(t, tc.extra...) })
	}
}

func metricsMove(t *testing.T, extra ...string) {
	needRsync(t)
	src, dst := tempTree(t)
	addr := freePort(t)
	a := startAgent(t, append([]string{"-Mrsyncdirect", "-W", src, "-D", dst, "-w0", "-t0", "-T0", "--metrics-listen", addr}, extra...)...)
	waitTreesEqual(t, a, src, dst)
	var before map[string]float64
	waitFor(t, "initial sync counted", func() bool {
		before = scrape(t, addr)
		return before["clsync_initial_sync_done"] == 1 && before[`clsync_syncs_total{result="ok"}`] >= 1
	})
	if _, ok := before["clsync_oldest_pending_seconds"]; !ok || before["clsync_paused"] != 0 {
		t.Errorf("pending age or pause missing: %v", before)
	}
	if before["clsync_watches"] < 1 || before["clsync_watches_limit"] < before["clsync_watches"] || before["process_resident_memory_bytes"] <= 0 {
		t.Errorf("watches or process metrics missing: %v", before)
	}
	sh(t, src, "mkdir -p n/m && echo 1 > n/m/f && echo 2 > g")
	waitTreesEqual(t, a, src, dst)
	var after map[string]float64
	waitFor(t, "counters moving", func() bool {
		after = scrape(t, addr)
		return after["clsync_events_total"] > before["clsync_events_total"] &&
			after[`clsync_syncs_total{result="ok"}`] > before[`clsync_syncs_total{result="ok"}`] &&
			after["clsync_watches"] > before["clsync_watches"] && after["clsync_rescans_total"] > before["clsync_rescans_total"]
	})
	if after["clsync_sync_duration_seconds_count"] < after[`clsync_syncs_total{result="ok"}`] {
		t.Errorf("durations not observed: %v", after)
	}
	if s := after["clsync_seconds_since_last_successful_sync"]; s < 0 || s > 60 {
		t.Errorf("seconds since the last sync: %v", s)
	}
}

// A port in use stops the agent before it starts: one line, non-zero.
func TestMetricsPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	src, dst := tempTree(t)
	a := startAgent(t, "-Mrsyncdirect", "-W", src, "-D", dst, "--metrics-listen", ln.Addr().String())
	if code := a.wait(t, 10*time.Second); code == 0 || strings.Count(a.stderr.String(), "\n") != 1 || !strings.Contains(a.stderr.String(), "address already in use") {
		t.Fatalf("exit %d: %q", code, a.stderr)
	}
	if exists(dst + "/seed") {
		t.Error("the agent started syncing")
	}
}
