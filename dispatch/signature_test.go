package dispatch

import (
	"os"
	"path/filepath"
	"slices"
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
// there is not taken for the old one.
func TestSignatureForgetsRemoved(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "d"), 0o755)
	os.WriteFile(filepath.Join(root, "d/f"), []byte("1"), 0o644)
	rec := newFake()
	s := Signature(rec, root, []string{"*"}).(*signature)
	s.Sync(t.Context(), []event.Event{{Path: "d/f", Op: event.Modify}}, false)
	if _, ok := s.seen["d/f"]; !ok {
		t.Fatal("nothing recorded")
	}
	os.RemoveAll(filepath.Join(root, "d"))
	s.Sync(t.Context(), []event.Event{{Path: "d", Op: event.Remove, IsDir: true}}, false)
	if len(s.seen) != 0 {
		t.Errorf("still recorded: %v", s.seen)
	}
	if !slices.Equal(rec.batches[1], []string{"d"}) {
		t.Errorf("removal batch %v", rec.batches[1])
	}
}
