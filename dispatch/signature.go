package dispatch

import (
	"context"
	"hash/fnv"
	"strings"
	"sync"

	"github.com/clsync-go/clsync/event"
	"github.com/clsync-go/clsync/internal/beneath"
	"golang.org/x/sys/unix"
)

// SignatureFields is what "*" stands for in --modification-signature (man
// clsync).
var SignatureFields = []string{"dev", "ino", "mode", "uid", "gid", "rdev", "size", "atime", "mtime", "ctime"}

// signature is the Signature decorator.
type signature struct {
	next   Handler
	root   string
	fields []string

	mu sync.Mutex
	// seen maps a path to the hash of its fields as they were when its
	// last successful sync started. A hash keeps an entry to the path and
	// 8 bytes (clsync warns that this option costs memory on huge trees).
	seen map[string]uint64
}

// Signature implements --modification-signature: a plain change event
// (content or metadata, not a creation, removal or rescan) on a path whose
// chosen lstat fields are what they were when its last sync started is
// dropped. Its use is a handler that changes what it syncs (a chown, or two
// mirrors syncing into each other): the events of its own change must not
// start it again and again.
//
// The fields are taken before the handler runs, not after: a change a user
// makes while the handler runs then still differs and is synced, where a
// signature taken afterwards would record it as synced and drop its event.
// A handler that changes what it syncs therefore runs once more for its own
// change; that run changes nothing, and its events are dropped. fields "*"
// stands for SignatureFields; none turns the decorator off.
func Signature(next Handler, root string, fields []string) Handler {
	if len(fields) == 0 {
		return next
	}
	var expanded []string
	for _, f := range fields {
		if f == "*" {
			expanded = append(expanded, SignatureFields...)
		} else {
			expanded = append(expanded, f)
		}
	}
	return &signature{next: next, root: root, fields: expanded, seen: map[string]uint64{}}
}

func (s *signature) Sync(ctx context.Context, items []event.Event, initial bool) error {
	if initial {
		// The initial sync covers the whole tree: nothing to drop, and
		// nothing recorded (a rescan is never dropped either).
		return s.next.Sync(ctx, items, initial)
	}
	items, sigs := s.filter(items)
	if len(items) == 0 {
		return nil
	}
	if err := s.next.Sync(ctx, items, initial); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, it := range items {
		if sigs[i].ok {
			s.seen[it.Path] = sigs[i].sum
		}
	}
	return nil
}

type sum struct {
	sum uint64
	ok  bool
}

// filter drops the items whose signature did not change and returns the
// signatures of those kept (ok only where one may be recorded). A removal
// forgets what was recorded at and below the path.
func (s *signature) filter(items []event.Event) ([]event.Event, []sum) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := items[:0:0]
	var sigs []sum
	for _, it := range items {
		if it.Op&event.Remove != 0 {
			s.forget(it.Path)
		}
		cur, ok := s.signature(it.Path)
		plain := it.Op&(event.Create|event.Remove|event.Rescan) == 0
		if plain && ok {
			if old, seen := s.seen[it.Path]; seen && old == cur {
				continue
			}
		}
		out = append(out, it)
		sigs = append(sigs, sum{cur, ok && it.Op&event.Rescan == 0})
	}
	return out, sigs
}

func (s *signature) forget(rel string) {
	delete(s.seen, rel)
	prefix := rel + "/"
	for p := range s.seen {
		if rel == "" || strings.HasPrefix(p, prefix) {
			delete(s.seen, p)
		}
	}
}

// signature hashes the chosen fields of rel's lstat; ok is false if the
// path is gone.
func (s *signature) signature(rel string) (uint64, bool) {
	st, err := beneath.Lstat(s.root, rel)
	if err != nil {
		return 0, false
	}
	h := fnv.New64a()
	var buf [8]byte
	put := func(v uint64) {
		for i := range buf {
			buf[i] = byte(v >> (8 * i))
		}
		h.Write(buf[:])
	}
	for _, f := range s.fields {
		put(statField(&st, f))
	}
	return h.Sum64(), true
}

// statField is one lstat field by its struct stat name.
func statField(st *unix.Stat_t, name string) uint64 {
	switch name {
	case "dev":
		return uint64(st.Dev)
	case "ino":
		return uint64(st.Ino)
	case "mode":
		return uint64(st.Mode)
	case "nlink":
		return uint64(st.Nlink)
	case "uid":
		return uint64(st.Uid)
	case "gid":
		return uint64(st.Gid)
	case "rdev":
		return uint64(st.Rdev)
	case "size":
		return uint64(st.Size)
	case "blksize":
		return uint64(st.Blksize)
	case "blocks":
		return uint64(st.Blocks)
	case "atime":
		return uint64(st.Atim.Nano())
	case "mtime":
		return uint64(st.Mtim.Nano())
	case "ctime":
		return uint64(st.Ctim.Nano())
	}
	return 0
}
