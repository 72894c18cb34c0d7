package handlers

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clsync-go/clsync/event"
)

// countingProcess counts the runs of simple mode without starting them:
// 200k forks of a real handler would take minutes, and what is measured is
// the plan's memory, not the handler's.
type countingProcess struct{ runs atomic.Int64 }

func (p *countingProcess) Run(context.Context, Invocation, []string, io.Writer) (Exit, error) {
	p.runs.Add(1)
	return Exit{}, nil
}

// The initial sync of every mode streams the tree: at 200k files the heap
// grows by far less than a list of the tree's paths would take (some 40
// MiB as steps, names and lines, as it was before it streamed).
func TestInitialSyncMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a tree of 200k files")
	}
	const dirs, filesPerDir = 2000, 100
	const bound = 4 << 20
	src := t.TempDir()
	for d := range dirs {
		dir := filepath.Join(src, fmt.Sprintf("d%04d", d))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := range filesPerDir {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d", f)), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	rsync, err := exec.LookPath("rsync")
	if err != nil {
		t.Fatal("rsync is needed: ", err)
	}
	for _, tc := range []struct {
		mode, program string
		template      []string
	}{
		{mode: "simple", program: "/bin/true"},
		{mode: "direct", program: "/bin/true"},
		{mode: "shell", program: "/bin/true"},
		{mode: "shell", program: "/bin/true", template: []string{"%INCLUDE-LIST%"}},
		{mode: "rsyncshell", program: "/bin/true"},
		{mode: "rsyncdirect", program: rsync},
	} {
		t.Run(fmt.Sprintf("%s%v", tc.mode, tc.template), func(t *testing.T) {
			s := newSetup(t, tc.mode, nil)
			s.cfg.WatchDir, s.cfg.Program, s.cfg.Template = src, tc.program, tc.template
			var counted *countingProcess
			if tc.mode == "simple" {
				counted = &countingProcess{}
				s.cfg.Process = counted
			}
			h := s.handler(t)
			peak := heapPeak(t, func() error {
				return h.Sync(t.Context(), []event.Event{{Path: "", Op: event.Rescan, IsDir: true}}, true)
			})
			t.Logf("heap grew by %.1f MiB at most", float64(peak)/(1<<20))
			if peak > bound {
				t.Errorf("the initial sync of %d files grew the heap by %.1f MiB, over %d MiB", dirs*filesPerDir, float64(peak)/(1<<20), bound>>20)
			}
			if counted != nil && counted.runs.Load() != 1+dirs+dirs*filesPerDir {
				t.Errorf("%d runs, want one per object (%d)", counted.runs.Load(), 1+dirs+dirs*filesPerDir)
			}
		})
	}
}

// heapPeak runs fn and returns the most the live heap grew over what it was
// before, sampled every millisecond while fn runs. The collector runs at
// 10% growth meanwhile, so that the figure is what fn keeps, not the garbage
// that the default 4 MiB heap target lets pile up.
func heapPeak(t *testing.T, fn func() error) uint64 {
	t.Helper()
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	done := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var most uint64
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > base {
				most = max(most, ms.HeapAlloc-base)
			}
			select {
			case <-done:
				peak <- most
				return
			case <-tick.C:
			}
		}
	}()
	err := fn()
	close(done)
	if err != nil {
		t.Fatal(err)
	}
	return <-peak
}
