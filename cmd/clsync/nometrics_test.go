//go:build !metrics

package main

import (
	"strings"
	"testing"
)

// Without the metrics tag, --metrics-listen is refused, not ignored.
func TestMetricsRefusedWithoutTheTag(t *testing.T) {
	_, src, dst, pid := cliTree(t)
	code, _, stderr := runCLI(t, "-H", "/NULL/", "-Mrsyncdirect", "-W", src, "-D", dst, "-z", pid, "--metrics-listen=127.0.0.1:9101")
	if code != 22 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "METRICS=1") {
		t.Fatalf("exit %d %q, want 22 and one line saying how to build it", code, stderr)
	}
	if exists(pid) {
		t.Fatal("started (pid file written)")
	}
}
