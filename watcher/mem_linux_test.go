//go:build linux

package watcher

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// BenchmarkNewMemory measures what New costs per watched directory on a tree
// shaped like the startup benchmark's (each directory in a random earlier
// one, ten files per directory): the heap still live once New has returned,
// and the bytes and objects allocated during the walk, which the agent's
// peak RSS also pays for until the collector catches up.
func BenchmarkNewMemory(b *testing.B) {
	const dirs, filesPerDir = 10000, 10
	root := b.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	paths := []string{root}
	for i := range dirs {
		p := filepath.Join(paths[rng.IntN(len(paths))], fmt.Sprintf("d%05d", i))
		if err := os.Mkdir(p, 0o755); err != nil {
			b.Fatal(err)
		}
		paths = append(paths, p)
	}
	for i := range dirs * filesPerDir {
		p := filepath.Join(paths[rng.IntN(len(paths))], fmt.Sprintf("f%06d", i))
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	var live, alloc, objects float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		w, err := New(context.Background(), Options{Root: root})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		n := float64(w.Watches())
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		live += float64(after.HeapAlloc-before.HeapAlloc) / n
		alloc += float64(after.TotalAlloc-before.TotalAlloc) / n
		objects += float64(after.Mallocs-before.Mallocs) / n
	}
	b.ReportMetric(live/float64(b.N), "live-B/dir")
	b.ReportMetric(alloc/float64(b.N), "alloc-B/dir")
	b.ReportMetric(objects/float64(b.N), "allocs/dir")
}
