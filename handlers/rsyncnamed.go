package handlers

import (
	"slices"

	"github.com/clsync-go/clsync/event"
	"github.com/clsync-go/clsync/internal/beneath"
)

// How rsyncdirect names a batch's paths to rsync (planNamed).
//
// An include list costs rsync every entry of every directory it visits
// times the list's lines (see planRsync): on a 1M-file tree, a storm of 20k
// files over 13k directories took 60-80 s of rsync where one full rsync
// took 25 s. A NUL-separated --files-from list costs the paths instead:
// rsync reads it a byte at a time (two system calls per byte: ~3.5 us a
// byte, measured with rsync 3.2.7), then visits each named object and its
// parents. The same storm: 9 s. So rsyncdirect lists:
//
//   - dirs: "dir/." with -d --delete (quick check): the directories a
//     removal happened in (rsync deletes what is gone from them; rsync
//     3.2.7's --delete-missing-args, which would name the removed paths
//     themselves, fails with "invalid file mode"), and directories dense
//     with changed files (at most shallowEntries entries per item);
//   - trees: "dir/" with -r --delete: rescanned directories (quick check)
//     and new or replaced ones (--ignore-times);
//   - files: the other changed objects themselves (--ignore-times).
//
// and a batch over most of the tree is one quick run of the whole tree.
const (
	// listBytesPerVisit: bytes of a --files-from list that cost rsync as
	// much as visiting one entry (~3.5 us a byte against ~20 us an entry).
	listBytesPerVisit = 6
	// namedRunNames caps the names of one run without --rsync-inclimit,
	// so that rsync's file list stays a bounded size.
	namedRunNames = 1 << 16
)

// The shapes of rsync runs of rsyncdirect (Invocation.Shape).
const (
	shapeList  = ""      // clsync's include and exclude lists
	shapeDirs  = "dirs"  // --files-from "dir/." -d --delete
	shapeTrees = "trees" // --files-from "dir/" -r --delete
	shapeFiles = "files" // --files-from the objects
)

// namedRun is one rsync run over names read from a --files-from list.
type namedRun struct {
	shape   string
	quick   bool
	names   []string
	exclude []string // the rules' exclusions below the names
}

// planNamed splits a batch into rsync runs over --files-from lists, in this
// order: directories with removals or dense with changes, rescanned trees,
// changed objects, new trees. Items the rules exclude, and items whose
// directory is gone (its own removal covers them), are left out.
// treeAtMost tells whether the tree holds at most so many entries.
func planNamed(root string, filter Filter, items []event.Event, limit int, treeAtMost func(int) bool) ([]namedRun, error) {
	dirs := &namedRun{shape: shapeDirs, quick: true}
	rescanned := &namedRun{shape: shapeTrees, quick: true}
	files := &namedRun{shape: shapeFiles}
	trees := &namedRun{shape: shapeTrees}
	p := newDirCache(root)

	listBytes := 0
	for _, it := range items {
		listBytes += len(it.Path) + 1
	}
	if len(items) >= denseMin && treeAtMost(len(items)+listBytes/listBytesPerVisit) {
		// Visiting the whole tree costs rsync less than the list would.
		rescanned.names = []string{"."}
		if err := excludedBelow(root, filter, "", rescanned.excludeLine); err != nil {
			return nil, err
		}
		return rescanned.split(limit), nil
	}

	removedIn := map[string]bool{}
	changedIn := map[string][]string{} // parent -> changed objects in it
	for _, it := range items {
		if filter != nil && it.Path != "" && !filter.Sync(it.Path, it.IsDir) {
			continue
		}
		parent := parentDir(it.Path)
		if it.Path != "" && !p.isDir(parent) {
			continue
		}
		if it.Op&event.Remove != 0 && it.Path != "" {
			removedIn[parent] = true
		}
		if it.Op&^event.Remove == 0 {
			continue
		}
		if it.Path == "" && !it.Recursive() {
			// The root's own metadata: the root one level deep.
			removedIn[""] = true
			continue
		}
		if it.Recursive() && p.isDir(it.Path) {
			run := trees
			if it.Op&event.Rescan != 0 && it.Op&event.Create == 0 {
				run = rescanned
			}
			run.names = append(run.names, treeName(it.Path))
			if err := excludedBelow(root, filter, it.Path, run.excludeLine); err != nil {
				return nil, err
			}
			continue
		}
		changedIn[parent] = append(changedIn[parent], it.Path)
	}
	for parent, changed := range changedIn {
		if !removedIn[parent] && len(changed) >= shallowMin && beneath.Entries(root, parent) <= shallowEntries*len(changed) {
			removedIn[parent] = true // dense: the directory one level deep covers its changes
			continue
		}
		// In a directory synced one level deep for a removal, the quick
		// check alone could miss a same-size rewrite: the changes keep
		// their own --ignore-times names.
		files.names = append(files.names, changed...)
	}
	for parent := range removedIn {
		dirs.names = append(dirs.names, dirName(parent))
		if err := entriesExcluded(root, filter, parent, dirs.excludeLine); err != nil {
			return nil, err
		}
	}
	var runs []namedRun
	for _, r := range []*namedRun{dirs, rescanned, files, trees} {
		runs = append(runs, r.split(limit)...)
	}
	return runs, nil
}

// dirName is the --files-from name of a directory synced one level deep.
func dirName(rel string) string {
	if rel == "" {
		return "."
	}
	return rel + "/."
}

// treeName is the --files-from name of a directory synced recursively (-r).
func treeName(rel string) string {
	if rel == "" {
		return "."
	}
	return rel + "/"
}

func (r *namedRun) excludeLine(line string) { r.exclude = append(r.exclude, line) }

// split sorts the run's names (rsync then sends each parent directory
// once) and cuts them into runs of at most limit names (namedRunNames if
// 0); each part carries the run's exclusions.
func (r *namedRun) split(limit int) []namedRun {
	if len(r.names) == 0 {
		return nil
	}
	if limit <= 0 || limit > namedRunNames {
		limit = namedRunNames
	}
	slices.Sort(r.names)
	var parts []namedRun
	for names := range slices.Chunk(r.names, limit) {
		parts = append(parts, namedRun{shape: r.shape, quick: r.quick, names: names, exclude: r.exclude})
	}
	return parts
}
