package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/clsync-go/clsync/rules"
)

// CheckRules answers "why is this path excluded?" (--check-rules): for each
// path, every permission the rules decide, the rule line that decides it and
// the verdict. Paths are absolute or relative to the watch dir; whether a
// path is a directory is read from the file system (a path that does not
// exist is checked as a file).
func CheckRules(w io.Writer, s *Settings) error {
	if len(s.CheckRules) == 0 {
		return usageErrorf("--check-rules needs at least one path (--check-rules PATH... or --check-rules=PATH)")
	}
	var set *rules.Set
	if s.RulesFile != "" {
		var err error
		if set, err = rules.Load(s.RulesFile); err != nil {
			return err
		}
	}
	watchDir := s.WatchDir
	if watchDir != "" {
		abs, err := filepath.Abs(watchDir)
		if err != nil {
			return fmt.Errorf("watch dir %s: %w", watchDir, err)
		}
		watchDir = abs
	}
	for _, p := range s.CheckRules {
		rel := p
		if watchDir != "" {
			var err error
			if rel, err = rules.RelPath(watchDir, p); err != nil {
				return usageErrorf("%v", err)
			}
		} else if filepath.IsAbs(p) {
			return usageErrorf("--check-rules %s: an absolute path needs --watch-dir", p)
		}
		isDir, note := false, " (not found: checked as a file)"
		full := rel
		if watchDir != "" {
			full = filepath.Join(watchDir, rel)
		}
		fi, err := os.Lstat(full)
		switch {
		case err == nil:
			isDir, note = fi.IsDir(), ""
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("--check-rules %s: %w", p, err)
		}
		kind := "file"
		if isDir {
			kind = "directory"
		}
		fmt.Fprintf(w, "%s: %s %q%s\n", p, kind, rel, note)
		if set == nil {
			fmt.Fprintf(w, "  everything allowed (no --rules-file)\n")
			continue
		}
		exps, err := set.Explain(rel, isDir)
		if err != nil {
			return err
		}
		for _, e := range exps {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	return nil
}
