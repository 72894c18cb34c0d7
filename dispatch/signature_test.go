package dispatch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clsync-go/clsync/event"
)

// A change event on a path whose signature is what it was when its last
// sync started is dropped; creations and removals never are.
func TestSignatureDropsOwnChanges(t *testing.T) {
	root := t.TempDir()
	f := filepath.Join(root, "f")
	os.WriteFile(f, []byte("1"), 0o644)
	rec := newFake()
	h := Signature(rec, root, []string{"mode"})
	mod := []event.Event{{Path: "f", Op: event.Attrib}}
	for range 2 {
		if err := h.Sync(t.Context(), mod, false); err != nil {
			t.Fatal(err)
		}
	}
	if rec.count() != 1 {
		t.Errorf("%d syncs of an unchanged path, want 1", rec.count())
	}
	if err := h.Sync(t.Context(), []event.Event{{Path: "f", Op: event.Create}}, false); err != nil || rec.count() != 2 {
		t.Errorf("a creation was dropped (%v)", err)
	}
	os.Chmod(f, 0o600)
	if err := h.Sync(t.Context(), mod, false); err != nil || rec.count() != 3 {
		t.Errorf("a real change was dropped (%v)", err)
	}
}

// A user's change made while the handler runs is not taken for the
// handler's own: its event is synced.
func TestSignatureKeepsChangesDuringSync(t *testing.T) {
	root := t.TempDir()
	f := filepath.Join(root, "f")
	os.WriteFile(f, []byte("1"), 0o644)
	rec := newFake()
	rec.during = func() { os.WriteFile(f, []byte("changed during the sync"), 0o644) }
	h := Signature(rec, root, []string{"size"})
	mod := []event.Event{{Path: "f", Op: event.Modify}}
	h.Sync(t.Context(), mod, false)
	rec.during = nil
	h.Sync(t.Context(), mod, false)
	if rec.count() != 2 {
		t.Errorf("%d syncs: the change made during the first was dropped", rec.count())
	}
	h.Sync(t.Context(), mod, false)
	if rec.count() != 2 {
		t.Errorf("%d syncs: an unchanged path was synced again", rec.count())
	}
}

// A removal forgets what was recorded below the path, so a new object
// there is not taken for the old one; what is recorded after the removal
// counts again.
func TestSignatureForgetsRemoved(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "d"), 0o755)
	os.WriteFile(filepath.Join(root, "d/f"), []byte("1"), 0o644)
	rec := newFake()
	s := Signature(rec, root, []string{"*"}).(*signature)
	mod := []event.Event{{Path: "d/f", Op: event.Modify}}
	s.Sync(t.Context(), mod, false)
	if _, ok := s.lookup("d/f"); !ok {
		t.Fatal("nothing recorded")
	}
	os.RemoveAll(filepath.Join(root, "d"))
	s.Sync(t.Context(), []event.Event{{Path: "d", Op: event.Remove, IsDir: true}}, false)
	if _, ok := s.lookup("d/f"); ok {
		t.Error("d/f still recorded after d's removal")
	}
	if !slices.Equal(rec.batches[1], []string{"d"}) {
		t.Errorf("removal batch %v", rec.batches[1])
	}

	os.MkdirAll(filepath.Join(root, "d"), 0o755)
	os.WriteFile(filepath.Join(root, "d/f"), []byte("2"), 0o644)
	for range 2 {
		s.Sync(t.Context(), mod, false)
	}
	if rec.count() != 3 {
		t.Errorf("%d syncs: d/f recorded after the removal was not honoured, want 3", rec.count())
	}
}

// Ancestors longer than maphash's buffer hash as the paths they are.
func TestSignatureForgetsBelowLongPath(t *testing.T) {
	root := t.TempDir()
	dir := strings.Repeat("a", 150) + "/" + strings.Repeat("b", 150)
	os.MkdirAll(filepath.Join(root, dir), 0o755)
	os.WriteFile(filepath.Join(root, dir, "f"), []byte("1"), 0o644)
	s := Signature(newFake(), root, []string{"*"}).(*signature)
	s.Sync(t.Context(), []event.Event{{Path: dir + "/f", Op: event.Modify}}, false)
	if _, ok := s.lookup(dir + "/f"); !ok {
		t.Fatal("nothing recorded")
	}
	s.Sync(t.Context(), []event.Event{{Path: dir, Op: event.Remove, IsDir: true}}, false)
	if _, ok := s.lookup(dir + "/f"); ok {
		t.Error("still recorded after its directory's removal")
	}
}

// A removal of the root forgets everything.
func TestSignatureRootRemovalForgetsAll(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "d"), 0o755)
	os.WriteFile(filepath.Join(root, "f"), []byte("1"), 0o644)
	os.WriteFile(filepath.Join(root, "d/g"), []byte("1"), 0o644)
	rec := newFake()
	s := Signature(rec, root, []string{"*"}).(*signature)
	mod := []event.Event{{Path: "f", Op: event.Modify}, {Path: "d/g", Op: event.Modify}}
	s.Sync(t.Context(), mod, false)
	s.Sync(t.Context(), []event.Event{{Path: "", Op: event.Remove, IsDir: true}}, false)
	for _, p := range []string{"f", "d/g"} {
		if _, ok := s.lookup(p); ok {
			t.Errorf("%s still recorded after the root's removal", p)
		}
	}
	s.Sync(t.Context(), mod, false)
	if rec.count() != 3 || !slices.Equal(rec.batches[2], []string{"f", "d/g"}) {
		t.Errorf("after the root's removal: %d syncs, batches %v", rec.count(), rec.batches)
	}
}

// size is how many entries and removals s holds.
func (s *signature) size() int {
	return len(s.cur.entries) + len(s.cur.removed) + len(s.prev.entries) + len(s.prev.removed)
}

// The memory is bounded: old entries are dropped, which costs their paths
// a sync, while a path just synced is still honoured and a removal is never
// dropped before what it hides.
func TestSignatureBound(t *testing.T) {
	const bound = 4
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "d"), 0o755)
	os.WriteFile(filepath.Join(root, "d/f"), []byte("1"), 0o644)
	rec := newFake()
	s := Signature(rec, root, []string{"*"}).(*signature)
	s.bound = bound
	s.Sync(t.Context(), []event.Event{{Path: "d/f", Op: event.Modify}}, false)
	s.Sync(t.Context(), []event.Event{{Path: "d", Op: event.Remove, IsDir: true}}, false)
	for i := range 50 {
		p := fmt.Sprint("f", i)
		os.WriteFile(filepath.Join(root, p), []byte("1"), 0o644)
		mod := []event.Event{{Path: p, Op: event.Modify}}
		s.Sync(t.Context(), mod, false)
		n := rec.count()
		s.Sync(t.Context(), mod, false)
		if rec.count() != n {
			t.Fatalf("%s: an unchanged path just synced was synced again", p)
		}
		if i%3 == 0 {
			s.Sync(t.Context(), []event.Event{{Path: fmt.Sprint("gone", i), Op: event.Remove}}, false)
		}
		if s.size() > 2*bound {
			t.Fatalf("%d entries and removals, bound %d", s.size(), 2*bound)
		}
		if _, ok := s.lookup("d/f"); ok {
			t.Fatalf("d/f honoured again after %d records", i+1)
		}
	}
	n := rec.count()
	s.Sync(t.Context(), []event.Event{{Path: "f0", Op: event.Modify}}, false)
	if rec.count() != n+1 {
		t.Error("an evicted path's event was dropped")
	}
}

// A removal does not scan the entries: it deletes none, and still hides
// those below it.
func TestSignatureRemovalDoesNotScan(t *testing.T) {
	const n = 5000
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "d"), 0o755)
	var mod []event.Event
	for i := range n {
		p := fmt.Sprint("d/f", i)
		if err := os.WriteFile(filepath.Join(root, p), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		mod = append(mod, event.Event{Path: p, Op: event.Modify})
	}
	s := Signature(newFake(), root, []string{"*"}).(*signature)
	s.Sync(t.Context(), mod, false)
	if len(s.cur.entries) != n {
		t.Fatalf("%d entries, want %d", len(s.cur.entries), n)
	}
	os.Rename(filepath.Join(root, "d"), filepath.Join(root, "moved"))
	s.Sync(t.Context(), []event.Event{{Path: "d", Op: event.Remove, IsDir: true}}, false)
	if len(s.cur.entries) != n || len(s.cur.removed) != 1 {
		t.Errorf("after a removal: %d entries, %d removals; want %d and 1", len(s.cur.entries), len(s.cur.removed), n)
	}
	for _, it := range mod {
		if _, ok := s.lookup(it.Path); ok {
			t.Fatalf("%s still recorded after d's removal", it.Path)
		}
	}
}

// BenchmarkSignatureRemovalStorm removes directories above the recorded
// entries; ns/op (a removal's Sync, lstat included) stays flat as the
// entries grow.
func BenchmarkSignatureRemovalStorm(b *testing.B) {
	const dirs = 100
	for _, n := range []int{1000, 100000} {
		b.Run(fmt.Sprint("entries=", n), func(b *testing.B) {
			s := Signature(HandlerFunc(func(context.Context, []event.Event, bool) error { return nil }),
				b.TempDir(), []string{"*"}).(*signature)
			for i := range n {
				s.record(fmt.Sprintf("d%d/f%d", i%dirs, i), uint64(i))
			}
			var removals [dirs][]event.Event
			for i := range removals {
				removals[i] = []event.Event{{Path: fmt.Sprint("d", i), Op: event.Remove, IsDir: true}}
			}
			i := 0
			for b.Loop() {
				s.Sync(b.Context(), removals[i%dirs], false)
				i++
			}
		})
	}
}
