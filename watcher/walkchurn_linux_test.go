//go:build linux

package watcher

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// The walk (its steps probed in parallel, see walkProbed) runs while directories
// are renamed, removed and made all over the tree: once that stops and the
// queue is drained, the watched tree is the tree on disk, each directory
// with its own watch.
func TestWalkUnderChurn(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			root := t.TempDir()
			rng := rand.New(rand.NewPCG(seed, 12))
			dirs := []string{""}
			for i := range 3000 {
				d := filepath.Join(dirs[rng.IntN(len(dirs))], fmt.Sprintf("d%d", i))
				mkdirAll(t, filepath.Join(root, d))
				dirs = append(dirs, d)
			}
			stop := make(chan struct{})
			var churn sync.WaitGroup
			churn.Go(func() {
				rng := rand.New(rand.NewPCG(seed, 34))
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					a := filepath.Join(root, dirs[1+rng.IntN(len(dirs)-1)])
					b := filepath.Join(root, dirs[rng.IntN(len(dirs))], fmt.Sprintf("n%d", i))
					switch rng.IntN(3) {
					case 0:
						os.Rename(a, b) // fails when a is gone or an ancestor of b
					case 1:
						os.RemoveAll(a)
					default:
						os.MkdirAll(filepath.Join(b, "x/y"), 0o755)
					}
				}
			})
			r := start(t, root, Options{})
			close(stop)
			churn.Wait()
			r.waitWatches(countDirs(t, root))
			checkTree(t, r, nil)
		})
	}
}
