package handlers

import (
	"slices"
	"strings"

	"github.com/clsync-go/clsync/event"
	"github.com/clsync-go/clsync/internal/beneath"
)

// How a batch becomes rsync runs with clsync's include and exclude lists
// (planRsync): rsyncshell's, and rsyncdirect's initial sync and its syncs
// with --rsync-prefer-include or a template of the user's (the others name
// their paths with --files-from, see planNamed).
//
// rsync matches every entry it visits against the filter lines one by one
// (exclude.c, check_filter): a list of L file lines over directories that
// hold V entries costs V*L comparisons, on the sender and again in the
// receiver's --delete pass. Measured (rsync 3.5.0, a 2-core VM, a 19k-entry
// tree): a no-op rsync costs ~20 us per entry visited, and every 1000 file
// lines add ~25 us per entry visited, so the 23k-line list of a storm took
// 4-7 s where one recursive rsync of the tree took 0.75 s. Directory lines
// ("/a/") cost files nothing: rsync skips directory-only rules for them.
//
// So a list of L lines over V entries costs about V*(1+L/linesPerVisit)
// entry visits, and a recursive sync of a subtree of S entries costs S:
// in a large batch, a subtree dense with items is synced whole when
// S <= V*(1+L/linesPerVisit), and a directory with many items directly in
// it one level deep ("/dir/" and "/dir/*"), at the cost of visiting its
// entries, which rsync does anyway for the list.
const (
	// denseLines: a batch with more lines than this (parent directory
	// lines aside) is looked at for dense directories and subtrees.
	denseLines = 1000
	// denseMin: a subtree with fewer items keeps its own lines.
	denseMin = 64
	// shallowMin, shallowEntries: a directory with at least shallowMin
	// items in it (one level down) and at most shallowEntries entries per
	// such item is synced one level deep.
	shallowMin     = 16
	shallowEntries = 2
	// linesPerVisit: list lines that cost rsync as much as visiting one
	// entry (~25 ns a line against ~20 us an entry).
	linesPerVisit = 800
	// runLines caps the include lines of one rsync run of rsyncdirect,
	// below --rsync-inclimit: what stays a list is matched in runs of
	// V*runLines comparisons each instead of V*L. A run costs ~60 ms of
	// its own (rsync's exit polls in 20 ms sleeps); 2000-5000 lines
	// measured best for a 23k-line list.
	runLines = 4000
)

// rsyncRun is a group of items synced by the same rsync arguments.
type rsyncRun struct {
	items []planItem
	// quick keeps rsync's quick check (size and mtime) where the other
	// runs pass --ignore-times: for directories rescanned (a collapse, an
	// overflow, new rules) and the dense areas of a large batch synced
	// whole, whose unchanged files must not be copied again.
	quick bool
}

// planItem is an item, or a directory synced one level deep.
type planItem struct {
	event.Event
	shallow bool // "/dir/" and "/dir/*": the directory's entries, not what lies below them
}

// planRsync splits a batch into rsync runs: the quick check run (for the
// directories rescanned, and the dense areas of a large batch), then the
// --ignore-times run (what events named: files, new and removed
// directories). Removals copy nothing: they go with the quick run when
// there is one, saving a run. The initial sync and a full rescan are one
// quick run.
func planRsync(root string, items []event.Event, initial bool) []rsyncRun {
	if initial || len(items) > 0 && items[0].Path == "" && items[0].Recursive() {
		return []rsyncRun{{items: asPlan(items), quick: true}}
	}
	var quick []planItem
	var named, flat []event.Event // flat: the items of one path, which a dense area may cover
	lines := 0
	for _, it := range items {
		switch {
		case it.Op&event.Rescan != 0 && it.Op&event.Create == 0:
			quick = append(quick, planItem{Event: it})
		case it.Recursive():
			named = append(named, it)
			lines += 2
		default:
			flat = append(flat, it)
			lines++
		}
	}
	if lines > denseLines {
		var dense []planItem
		flat, dense = densify(root, flat, lines)
		quick = append(quick, dense...)
		// What lies in a subtree synced whole is synced with it.
		whole := map[string]bool{}
		for _, d := range dense {
			if !d.shallow {
				whole[d.Path] = true
			}
		}
		named = slices.DeleteFunc(named, func(it event.Event) bool { return within(it.Path, whole) })
		quick = slices.DeleteFunc(quick, func(it planItem) bool { return !whole[it.Path] && within(it.Path, whole) })
	}
	var exact []planItem
	for _, it := range append(named, flat...) {
		if it.Op&^event.Remove == 0 && len(quick) > 0 {
			quick = append(quick, planItem{Event: it})
		} else {
			exact = append(exact, planItem{Event: it})
		}
	}
	var runs []rsyncRun
	for _, r := range []rsyncRun{{items: quick, quick: true}, {items: exact}} {
		if len(r.items) > 0 {
			slices.SortFunc(r.items, func(a, b planItem) int { return strings.Compare(a.Path, b.Path) })
			runs = append(runs, r)
		}
	}
	return runs
}

// within tells whether p is one of dirs or lies below one.
func within(p string, dirs map[string]bool) bool {
	if len(dirs) == 0 {
		return false
	}
	for {
		if dirs[p] {
			return true
		}
		if p == "" {
			return false
		}
		p = parentDir(p)
	}
}

func asPlan(items []event.Event) []planItem {
	p := make([]planItem, len(items))
	for i, it := range items {
		p[i] = planItem{Event: it}
	}
	return p
}

// dnode is a directory the list makes rsync visit: one holding items, or
// above one.
type dnode struct {
	path    string
	kids    map[string]*dnode
	items   []event.Event // the items directly in it
	total   int           // items in the subtree
	visited int           // entries of the subtree's nodes: what the list visits
	shallow bool          // synced one level deep
}

func (d *dnode) child(path string) *dnode {
	if d.kids == nil {
		d.kids = map[string]*dnode{}
	}
	k := d.kids[path]
	if k == nil {
		k = &dnode{path: path}
		d.kids[path] = k
	}
	return k
}

// densify takes the dense areas of a large batch out of its list: of its
// items of one path (files, removed files, changed directories), it returns
// those that keep their own lines, and the subtrees and directories that
// replace the others. lines is the batch's list length.
//
// A batch over most of the tree syncs the root whole: when the tree holds
// at most shallowEntries entries per item, the list would cost more at any
// length above denseLines. Otherwise the entries of the directories the
// list visits are counted (V); every directory with at least shallowMin
// items and at most shallowEntries entries per item is synced one level
// deep; then, top down, a subtree of at least denseMin items is synced
// whole when its entries S <= V*(1+L/linesPerVisit), L being the lines a
// run still has.
func densify(root string, items []event.Event, lines int) (keep []event.Event, dense []planItem) {
	sizes := newTreeSizes(root)
	if len(items) >= denseMin && sizes.atMost("", shallowEntries*len(items)) {
		return nil, []planItem{{Event: event.Event{Path: "", Op: event.Rescan, IsDir: true}}}
	}
	top := &dnode{}
	for _, it := range items {
		d := top
		d.total++
		for i := 0; i < len(it.Path); i++ {
			if it.Path[i] == '/' {
				d = d.child(it.Path[:i])
				d.total++
			}
		}
		d.items = append(d.items, it)
	}
	left := lines
	var count func(d *dnode) int
	count = func(d *dnode) int {
		n := beneath.Entries(root, d.path)
		if len(d.items) >= shallowMin && n <= shallowEntries*len(d.items) {
			d.shallow = true
			left -= len(d.items) - 1
		}
		d.visited = n
		for _, k := range d.kids {
			d.visited += count(k)
		}
		return d.visited
	}
	count(top)
	perRun := min(left, runLines)
	var walk func(d *dnode)
	walk = func(d *dnode) {
		if d.total >= denseMin && sizes.atMost(d.path, d.visited+d.visited*perRun/linesPerVisit) {
			dense = append(dense, planItem{Event: event.Event{Path: d.path, Op: event.Rescan, IsDir: true}})
			return
		}
		if d.shallow {
			dense = append(dense, planItem{Event: event.Event{Path: d.path, IsDir: true}, shallow: true})
		} else {
			keep = append(keep, d.items...)
		}
		for _, k := range d.kids {
			walk(k)
		}
	}
	walk(top)
	slices.SortFunc(keep, func(a, b event.Event) int { return strings.Compare(a.Path, b.Path) })
	return keep, dense
}

// treeSizes tells whether subtrees hold at most so many entries, for one
// plan: the root is asked twice (the tree against the batch, then against
// what the list costs), and a count is not made again where the one made
// already answers.
type treeSizes struct {
	root string
	// used is the inodes in use on the file system that holds the watch
	// dir (0: unknown): no subtree holds more, so one statfs may answer.
	used    uint64
	counted map[string]treeCount
}

type treeCount struct {
	n     int
	exact bool // else n is a lower bound: the count stopped there
}

func newTreeSizes(root string) *treeSizes {
	used, _ := usedInodes(root)
	return &treeSizes{root: root, used: used, counted: map[string]treeCount{}}
}

// atMost tells whether the subtree at rel holds at most limit entries,
// reading its directories no further than the limit.
func (t *treeSizes) atMost(rel string, limit int) bool {
	if t.used > 0 && t.used <= uint64(limit) {
		return true
	}
	if c, ok := t.counted[rel]; ok && (c.exact || limit < c.n) {
		return c.n <= limit
	}
	n := beneath.Count(t.root, rel, limit)
	t.counted[rel] = treeCount{n: n, exact: n <= limit}
	return n <= limit
}
