package handlers

import (
	"strings"

	"github.com/clsync-go/clsync/event"
	"github.com/clsync-go/clsync/internal/beneath"
)

// Filter is what a handler needs of the rules (-R): whether a path is synced
// and whether a directory is walked. A nil Filter allows everything.
type Filter interface {
	Sync(rel string, isDir bool) bool
	Walk(rel string) bool
}

// rsyncPart is one rsync run's filter lists: clsync's include list (with
// every parent directory) and exclude list, as pattern lines.
type rsyncPart struct {
	include, exclude []string
	// root: the root directory itself changed (its mode or owner). rsync
	// always syncs the root of the transfer, so an empty include list
	// does it, and nothing else.
	root bool
}

// listBuilder turns batch items into rsync filter lines, split into parts of
// about limit include lines (--rsync-inclimit: rsync is slow with huge
// include lists).
type listBuilder struct {
	dirCache // the watch dir, for walking when rules exclude something below a recursive item
	filter   Filter
	limit    int

	parts   []rsyncPart
	cur     rsyncPart
	parents map[string]bool // parent lines already in cur
}

// dirCache tells, for one plan, whether directories are still in the
// source below root.
type dirCache struct {
	root   string
	exists map[string]bool
}

func newDirCache(root string) dirCache { return dirCache{root: root, exists: map[string]bool{}} }

func (c dirCache) isDir(rel string) bool {
	ok, cached := c.exists[rel]
	if !cached {
		ok = beneath.IsDir(c.root, rel)
		c.exists[rel] = ok
	}
	return ok
}

func buildRsyncLists(root string, filter Filter, limit int, items []planItem) ([]rsyncPart, error) {
	b := &listBuilder{dirCache: newDirCache(root), filter: filter, limit: limit, parents: map[string]bool{}}
	for _, it := range items {
		var err error
		if it.shallow {
			err = b.addShallow(it.Path)
		} else {
			err = b.add(it.Event)
		}
		if err != nil {
			return nil, err
		}
	}
	b.flush()
	return b.parts, nil
}

// addShallow lists a directory one level deep: "/dir/" and "/dir/*" (what
// lies below its subdirectories stays excluded), and, with rules, the
// entries they do not sync.
func (b *listBuilder) addShallow(rel string) error {
	if !b.isDir(rel) {
		return nil
	}
	if b.limit > 0 && len(b.cur.include) >= b.limit {
		b.flush()
	}
	if rel == "" {
		b.cur.include = append(b.cur.include, "/*")
	} else {
		b.addParents(rel + "/")
		b.cur.include = append(b.cur.include, pattern("/"+rel, "/*"))
	}
	return entriesExcluded(b.root, b.filter, rel, b.exclude)
}

func (b *listBuilder) add(it event.Event) error {
	if b.filter != nil && it.Path != "" && !b.filter.Sync(it.Path, it.IsDir) {
		return nil
	}
	// An item whose directory is gone from the source is covered by the
	// removal of that directory, which has an event of its own. Listing it
	// would make rsync try to delete its missing parents while their other
	// content is excluded ("cannot delete non-empty directory").
	if parent := parentDir(it.Path); parent != "" && !b.isDir(parent) {
		return nil
	}
	if b.limit > 0 && len(b.cur.include) >= b.limit {
		b.flush()
	}
	b.addParents(it.Path)
	if it.Path == "" {
		if it.Recursive() {
			b.cur.include = append(b.cur.include, "/***")
			return b.excludeBelow("")
		}
		b.cur.root = true
		return nil
	}
	b.cur.include = append(b.cur.include, pattern("/"+it.Path, ""))
	if it.Recursive() {
		b.cur.include = append(b.cur.include, pattern("/"+it.Path, "/***"))
		return b.excludeBelow(it.Path)
	}
	return nil
}

func parentDir(rel string) string {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[:i]
	}
	return ""
}

// addParents includes every ancestor directory, or rsync would never descend
// to the item through the final --exclude=*.
func (b *listBuilder) addParents(rel string) {
	for i := 0; i < len(rel); i++ {
		if rel[i] != '/' {
			continue
		}
		line := pattern("/"+rel[:i], "/")
		if !b.parents[line] {
			b.parents[line] = true
			b.cur.include = append(b.cur.include, line)
		}
	}
}

func (b *listBuilder) exclude(line string) { b.cur.exclude = append(b.cur.exclude, line) }

func (b *listBuilder) excludeBelow(rel string) error {
	return excludedBelow(b.root, b.filter, rel, b.exclude)
}

// entriesExcluded gives the exclude lines, for a directory synced one level
// deep, of its entries that the rules do not sync.
func entriesExcluded(root string, filter Filter, rel string, exclude func(line string)) error {
	if filter == nil {
		return nil
	}
	f, err := beneath.OpenDir(root, rel)
	if err != nil {
		if beneath.Gone(err) {
			return nil
		}
		return err
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil && !beneath.Gone(err) {
		return err
	}
	for _, e := range entries {
		r := e.Name()
		if rel != "" {
			r = rel + "/" + r
		}
		if !filter.Sync(r, e.IsDir()) {
			exclude(pattern("/"+r, ""))
		}
	}
	return nil
}

// excludedBelow walks a recursive item's subtree when rules exist and gives
// the exclude lines of what they exclude, as clsync does; without rules
// there is nothing to walk.
func excludedBelow(root string, filter Filter, rel string, exclude func(line string)) error {
	if filter == nil {
		return nil
	}
	return beneath.Walk(root, rel, func(r string, dir bool) error {
		if r == rel {
			return nil
		}
		if !filter.Sync(r, dir) {
			exclude(pattern("/"+r, ""))
			if dir {
				return beneath.SkipDir
			}
			return nil
		}
		if dir && !filter.Walk(r) {
			exclude(pattern("/"+r, "/*"))
			return beneath.SkipDir
		}
		return nil
	})
}

func (b *listBuilder) flush() {
	if len(b.cur.include) == 0 && len(b.cur.exclude) == 0 && !b.cur.root {
		return
	}
	b.parts = append(b.parts, b.cur)
	b.cur = rsyncPart{}
	b.parents = map[string]bool{}
}

// pattern renders path+suffix as an rsync filter pattern that matches the
// path literally. rsync treats a backslash as an escape only in patterns
// that contain a wildcard (*?[), so names are escaped only then. A newline
// cannot be written into a newline-separated list; it becomes '?', which also
// matches other characters: syncing a few more paths than needed is harmless
// for a mirror, missing one is not.
func pattern(path, suffix string) string {
	wild := strings.ContainsAny(suffix, "*?[") || strings.ContainsAny(path, "*?[\n\r")
	if !wild {
		return path + suffix
	}
	var sb strings.Builder
	for i := 0; i < len(path); i++ {
		switch c := path[i]; c {
		case '*', '?', '[', ']', '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case '\n', '\r':
			sb.WriteByte('?')
		default:
			sb.WriteByte(c)
		}
	}
	sb.WriteString(suffix)
	return sb.String()
}
