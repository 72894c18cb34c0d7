package main

import (
	"hash/fnv"
	"path/filepath"
	"strings"
	"sync"

	"github.com/clsync-go/clsync/event"
	"golang.org/x/sys/unix"
)

// modSignature implements --modification-signature: a change event on a
// path whose chosen lstat fields are what they were after its last sync is
// dropped. The use it exists for is a handler that itself changes what it
// syncs (chown in the examples, or two mirrors syncing into each other):
// the event its own change causes must not start it again.
type modSignature struct {
	root   string
	fields []string

	mu sync.Mutex
	// seen maps a path to the hash of its fields after its last sync. clsync
	// warns that this costs memory on huge trees; a hash keeps it to the
	// path and 8 bytes.
	seen map[string]uint64
}

// allSignatureFields is what "*" stands for (man clsync).
var allSignatureFields = []string{"dev", "ino", "mode", "uid", "gid", "rdev", "size", "atime", "mtime", "ctime"}

func newModSignature(root string, fields []string) *modSignature {
	if len(fields) == 0 {
		return nil
	}
	var expanded []string
	for _, f := range fields {
		if f == "*" {
			expanded = append(expanded, allSignatureFields...)
		} else {
			expanded = append(expanded, f)
		}
	}
	return &modSignature{root: root, fields: expanded, seen: map[string]uint64{}}
}

// signature hashes the chosen fields of rel's lstat; ok is false if the
// path is gone.
func (m *modSignature) signature(rel string) (uint64, bool) {
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(m.root, rel), &st); err != nil {
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
	for _, f := range m.fields {
		switch f {
		case "dev":
			put(uint64(st.Dev))
		case "ino":
			put(uint64(st.Ino))
		case "mode":
			put(uint64(st.Mode))
		case "nlink":
			put(uint64(st.Nlink))
		case "uid":
			put(uint64(st.Uid))
		case "gid":
			put(uint64(st.Gid))
		case "rdev":
			put(uint64(st.Rdev))
		case "size":
			put(uint64(st.Size))
		case "blksize":
			put(uint64(st.Blksize))
		case "blocks":
			put(uint64(st.Blocks))
		case "atime":
			put(uint64(st.Atim.Nano()))
		case "mtime":
			put(uint64(st.Mtim.Nano()))
		case "ctime":
			put(uint64(st.Ctim.Nano()))
		}
	}
	return h.Sum64(), true
}

// filter drops the items whose signature did not change. Only plain
// content or metadata changes can be dropped: a creation, a removal or a
// subtree to rescan is always synced, and a removal forgets what was
// recorded below the path.
func (m *modSignature) filter(items []event.Event) []event.Event {
	if m == nil {
		return items
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := items[:0:0]
	for _, it := range items {
		if it.Op&event.Remove != 0 {
			m.forget(it.Path)
		}
		if it.Op&(event.Create|event.Remove|event.Rescan) == 0 {
			if sig, ok := m.signature(it.Path); ok {
				if old, seen := m.seen[it.Path]; seen && old == sig {
					continue
				}
			}
		}
		out = append(out, it)
	}
	return out
}

func (m *modSignature) forget(rel string) {
	delete(m.seen, rel)
	prefix := rel + "/"
	for p := range m.seen {
		if rel == "" || strings.HasPrefix(p, prefix) {
			delete(m.seen, p)
		}
	}
}

// record stores the signatures after a successful sync, so the events the
// sync itself caused compare equal.
func (m *modSignature) record(items []event.Event) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, it := range items {
		if sig, ok := m.signature(it.Path); ok && it.Op&event.Rescan == 0 {
			m.seen[it.Path] = sig
		}
	}
}
