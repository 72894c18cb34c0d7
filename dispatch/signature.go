package dispatch

import (
	"context"
	"hash/fnv"
	"hash/maphash"
	"sync"

	"github.com/clsync-go/clsync/event"
	"github.com/clsync-go/clsync/internal/beneath"
	"golang.org/x/sys/unix"
)

// SignatureFields is what "*" stands for in --modification-signature (man
// clsync).
var SignatureFields = []string{"dev", "ino", "mode", "uid", "gid", "rdev", "size", "atime", "mtime", "ctime"}

// signatureBound is how many entries and removals one generation holds
// before it becomes the previous one and the previous one is dropped: two
// generations of 1<<18 at 36 to 54 bytes an entry (a 24-byte map slot and
// the map's slack, measured) stay below ~27 MiB whatever the tree's size.
const signatureBound = 1 << 18

// signature is the Signature decorator.
//
// It keeps no path, only a 64-bit hash of it: a wrong drop needs both a
// collision of two paths' hashes and equal signature sums.
//
// Memory is bounded by two generations: records and removals go into cur,
// and when cur holds bound of them, prev is dropped and cur becomes prev.
// A removal only hides entries with a smaller seq, recorded before it, so
// in its generation or an older one: they are dropped with it or before it.
// A dropped entry only costs its path one more sync, never a dropped change.
type signature struct {
	next   Handler
	root   string
	fields []string

	mu   sync.Mutex
	seed maphash.Seed
	// seq orders records and removals: an entry is stale once its path or
	// a directory above it has a removal with a greater seq.
	seq       uint64
	cur, prev generation
	bound     int
}

// generation is what was recorded and removed while it was cur.
type generation struct {
	entries map[uint64]entry  // by path hash
	removed map[uint64]uint64 // path hash -> seq of its last removal
}

// entry is a path's signature as it was when its last successful sync
// started.
type entry struct{ sum, seq uint64 }

func newGeneration() generation {
	return generation{entries: map[uint64]entry{}, removed: map[uint64]uint64{}}
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
	return &signature{
		next: next, root: root, fields: expanded,
		seed: maphash.MakeSeed(), cur: newGeneration(), bound: signatureBound,
	}
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
			s.record(it.Path, sigs[i].sum)
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
			if old, seen := s.lookup(it.Path); seen && old == cur {
				continue
			}
		}
		out = append(out, it)
		sigs = append(sigs, sum{cur, ok && it.Op&event.Rescan == 0})
	}
	return out, sigs
}

// record notes rel's signature after its successful sync.
func (s *signature) record(rel string, sum uint64) {
	s.seq++
	s.cur.entries[maphash.String(s.seed, rel)] = entry{sum, s.seq}
	s.rotate()
}

// forget makes what was recorded at and below rel stale (see lookup) in
// O(1): deleting those entries would scan them all, for each removal.
func (s *signature) forget(rel string) {
	s.seq++
	s.cur.removed[maphash.String(s.seed, rel)] = s.seq
	s.rotate()
}

func (s *signature) rotate() {
	if len(s.cur.entries)+len(s.cur.removed) >= s.bound {
		s.prev, s.cur = s.cur, newGeneration()
	}
}

// lookup returns the sum recorded for rel, unless rel or a directory above
// it (the root "" included) was removed since.
func (s *signature) lookup(rel string) (uint64, bool) {
	h := maphash.String(s.seed, rel)
	e, ok := s.cur.entries[h]
	if !ok {
		if e, ok = s.prev.entries[h]; !ok {
			return 0, false
		}
	}
	// The hashes of "", "a", "a/b" for "a/b" in one pass: a maphash
	// depends on the bytes written, not on how they were split.
	var ph maphash.Hash
	ph.SetSeed(s.seed)
	written := 0
	for i := 0; i <= len(rel); i++ {
		if i > 0 && i < len(rel) && rel[i] != '/' {
			continue
		}
		ph.WriteString(rel[written:i])
		written = i
		p := ph.Sum64()
		if s.cur.removed[p] > e.seq || s.prev.removed[p] > e.seq {
			return 0, false
		}
	}
	return e.sum, true
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
