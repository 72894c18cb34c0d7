// Package rules implements clsync's filter rules: the file named by
// -R/--rules-file that decides which directories are walked and monitored
// and which files and directories are synced.
//
// # File format
//
// One rule per line, "<sign><type><regex>":
//
//	sign   '+' include, '-' exclude
//	type   'f' regular files (any non-directory here, see below)
//	       'd' directories: walk + monitor + sync
//	       'w' directories: walk into
//	       'm' directories: monitor events inside
//	       's' directories: sync
//	       'W' directories: walk + monitor
//	       '*' files and directories: everything
//	regex  POSIX extended regular expression (regcomp REG_EXTENDED, C locale)
//
// Exactly one type letter is read: "+wm^x" is a 'w' rule with the regex
// "m^x". Lines starting with '#' and empty lines are skipped; a '#' anywhere
// else is part of the regex, and a line starting with any other character
// (including a space) is an error. A line's "\n" and any "\r" before it are
// stripped; every other byte, trailing spaces included, belongs to the
// regex. An empty regex matches everything, so "-*" excludes everything.
//
// # Matching
//
// A path is matched in the form clsync gives it: relative to the watch
// directory, without a leading or trailing slash, the watch directory
// itself being "" (so "^$" selects it). Files and directories are matched
// with the same string; the rule type selects which rules apply. For each
// permission separately, the first applicable rule whose regex matches
// decides; if none does, the permission is granted.
//
// # Differences from clsync 0.4.5
//
// The meaning is clsync's (rules.c: parse_rules_fromfile,
// rules_search_getperm, rules_getperm) except where clsync contradicted its
// manual or silently lost or distorted rules:
//   - 'W' means walk + monitor as documented; clsync lower-cases the type
//     letter before testing it, so its 'W' was a plain 'w'. The other
//     upper-case letters clsync accepted that way (F, D, M, S) are still
//     accepted as their lower-case forms.
//   - An unknown type letter is an error; clsync warned and skipped the rule.
//   - The last line need not end in "\n"; clsync cut its last byte anyway,
//     which turned a final "-*" into an ignored "-".
//   - "\r" before the line end is stripped (CRLF files); clsync kept it in
//     the regex, so such rules never matched.
//   - Every non-directory counts as a file for 'f' rules. clsync tested
//     S_IFREG, so live events on symlinks, FIFOs and sockets escaped 'f'
//     rules while its initial scan and deletions treated them as files.
//   - There is no limit on the number of rules (clsync stopped at 256).
//   - Monitor is decided by the rules that cover monitoring ('m', 'W', 'd',
//     '*'). clsync's directory-marking walk (sync.c, sync_mark_walk) looked
//     only at rules covering walking and took the monitor decision from the
//     same rule, so there 'w' rules also granted monitoring and 'm' rules
//     were ignored; a caller wanting that behaviour asks Walk for both.
package rules

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dlclark/regexp2"
)

// Perm is a set of the actions a rule governs.
type Perm uint8

const (
	Walk    Perm = 1 << iota // descend into a directory
	Monitor                  // watch a directory for events
	Sync                     // sync a file or directory

	AllPerms = Walk | Monitor | Sync
)

// String gives "walk", "monitor", "sync", or names joined with "+".
func (p Perm) String() string {
	var names []string
	for _, n := range [...]struct {
		p    Perm
		name string
	}{{Walk, "walk"}, {Monitor, "monitor"}, {Sync, "sync"}} {
		if p&n.p != 0 {
			names = append(names, n.name)
		}
	}
	if rest := p &^ AllPerms; rest != 0 || len(names) == 0 {
		names = append(names, "Perm("+strconv.Itoa(int(rest))+")")
	}
	return strings.Join(names, "+")
}

// Kind is the object type a rule applies to.
type Kind uint8

const (
	AnyKind  Kind = iota // '*'
	FileKind             // 'f'
	DirKind              // 'd', 'w', 'W', 'm', 's'
)

// Rule is one parsed line of a rules file. Rules are shared by a Set and
// the Verdicts it returns; do not modify them.
type Rule struct {
	Line    int    // 1-based line number in the file
	Text    string // the line, without its line ending
	Include bool   // '+' (true) or '-' (false)
	Kind    Kind
	Perms   Perm // the permissions this rule decides
	re      *regexp2.Regexp
}

// Pattern is the rule's POSIX extended regular expression.
func (r *Rule) Pattern() string { return r.Text[2:] }

func (r *Rule) appliesTo(isDir bool, perm Perm) bool {
	switch r.Kind {
	case FileKind:
		return !isDir
	case DirKind:
		return isDir && r.Perms&perm != 0
	default:
		return r.Perms&perm != 0
	}
}

// Set is a parsed rules file. It is immutable and safe for concurrent use.
// A nil *Set allows everything, as clsync does without -R.
type Set struct {
	file  string
	rules []Rule
}

// DefaultMatchTimeout bounds a single regex match when Options leave
// MatchTimeout zero. Rules run on every event, so a pathological regex
// must fail visibly rather than stall the agent.
const DefaultMatchTimeout = 100 * time.Millisecond

// Options tune parsing. The zero value is the default.
type Options struct {
	// MatchTimeout bounds each regex match; zero or negative means
	// DefaultMatchTimeout. A match that runs out of time makes Check
	// return an error wrapping ErrMatchTimeout. regexp2 reads a clock
	// that ticks every 100ms, so a match may overrun this by up to about
	// 200ms before it is stopped.
	MatchTimeout time.Duration
}

var (
	// ErrSyntax is matched (errors.Is) by every *ParseError: the file was
	// read but is not a valid rules file (clsync exits with EINVAL).
	ErrSyntax = errors.New("invalid rules file")
	// ErrMatchTimeout is wrapped by Check errors when a regex exceeded
	// the match timeout.
	ErrMatchTimeout = errors.New("regex match timed out")
)

// ParseError reports an invalid line of a rules file.
type ParseError struct {
	File string // the name given to Parse
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("rules file %s line %d: %s", e.File, e.Line, e.Msg)
}

// Is makes errors.Is(err, ErrSyntax) true for parse errors.
func (e *ParseError) Is(target error) bool { return target == ErrSyntax }

// Parse reads a rules file with default Options; name is used in errors.
func Parse(r io.Reader, name string) (*Set, error) { return Options{}.Parse(r, name) }

// Load reads the rules file at path with default Options.
func Load(path string) (*Set, error) { return Options{}.Load(path) }

// Load reads the rules file at path. Open and read errors wrap the
// underlying *os.PathError, so errors.Is(err, fs.ErrNotExist) and
// errors.Is(err, fs.ErrPermission) work on them.
func (o Options) Load(path string) (*Set, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rules file: %w", err)
	}
	defer f.Close()
	return o.Parse(f, path)
}

// Parse reads a rules file from r; name is used in errors.
func (o Options) Parse(r io.Reader, name string) (*Set, error) {
	timeout := o.MatchTimeout
	if timeout <= 0 {
		timeout = DefaultMatchTimeout
	}
	s := &Set{file: name}
	br := bufio.NewReader(r)
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadString('\n')
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("rules file %s: %w", name, err)
		}
		if line == "" && err == io.EOF {
			return s, nil
		}
		rule, perr := parseLine(line, lineNo, timeout)
		if perr != "" {
			return nil, &ParseError{File: name, Line: lineNo, Msg: perr}
		}
		if rule != nil {
			s.rules = append(s.rules, *rule)
		}
	}
}

// parseLine parses one line (with its line ending, if any). It returns a
// nil rule for lines to skip, or a non-empty error message.
func parseLine(line string, lineNo int, timeout time.Duration) (*Rule, string) {
	text := strings.TrimRight(strings.TrimSuffix(line, "\n"), "\r")
	if text == "" || text[0] == '#' {
		return nil, ""
	}
	r := &Rule{Line: lineNo, Text: text}
	switch text[0] {
	case '+':
		r.Include = true
	case '-':
	default:
		return nil, fmt.Sprintf("unknown rule action %s in %q (want '+', '-' or '#' for a comment)", quoteByte(text[0]), text)
	}
	if len(text) < 2 {
		return nil, fmt.Sprintf("rule %q lacks a type letter (one of %s)", text, typeLetters)
	}
	var ok bool
	if r.Kind, r.Perms, ok = ruleType(text[1]); !ok {
		return nil, fmt.Sprintf("unknown rule type %s in %q (want one of %s)", quoteByte(text[1]), text, typeLetters)
	}
	// A C string, as clsync used, would have ended at the NUL and
	// silently given a different regex.
	if strings.IndexByte(text, 0) >= 0 {
		return nil, fmt.Sprintf("rule %q contains a NUL byte", text)
	}
	re, err := compileERE(r.Pattern(), timeout)
	if err != nil {
		return nil, fmt.Sprintf("bad regex %q: %v", r.Pattern(), err)
	}
	r.re = re
	return r, ""
}

const typeLetters = "f d w W m s *"

func ruleType(c byte) (Kind, Perm, bool) {
	switch c {
	case '*':
		return AnyKind, AllPerms, true
	case 'f', 'F':
		return FileKind, AllPerms, true
	case 'd', 'D':
		return DirKind, AllPerms, true
	case 'W':
		return DirKind, Walk | Monitor, true
	case 'w':
		return DirKind, Walk, true
	case 'm', 'M':
		return DirKind, Monitor, true
	case 's', 'S':
		return DirKind, Sync, true
	}
	return 0, 0, false
}

// quoteByte quotes a single byte of a possibly non-UTF-8 line.
func quoteByte(b byte) string {
	if b < 0x80 {
		return strconv.QuoteRune(rune(b))
	}
	return fmt.Sprintf(`'\x%02x'`, b)
}

// Len is the number of rules (comments and blank lines excluded).
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.rules)
}

// SameSync tells whether s and o decide Sync alike for every path: the
// rules that decide it are the same, in the same order. A reload whose
// rules differ here changes what is synced, and anywhere in the tree.
func (s *Set) SameSync(o *Set) bool {
	a, b := s.syncRules(), o.syncRules()
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Text != b[i].Text {
			return false
		}
	}
	return true
}

func (s *Set) syncRules() []*Rule {
	if s == nil {
		return nil
	}
	var out []*Rule
	for i := range s.rules {
		if r := &s.rules[i]; r.Kind == FileKind || r.Perms&Sync != 0 {
			out = append(out, r)
		}
	}
	return out
}

// Verdict is the outcome of checking one permission.
type Verdict struct {
	Allowed bool
	Rule    *Rule // the deciding rule; nil when no rule matched (default: allowed)
}

// Check decides one permission (exactly one of Walk, Monitor, Sync) for the
// object at relPath (see the package comment for the path form). For a
// file, only 'f' and '*' rules apply and they decide every permission
// alike, so Sync is the one that matters.
func (s *Set) Check(relPath string, isDir bool, perm Perm) (Verdict, error) {
	if perm != Walk && perm != Monitor && perm != Sync {
		return Verdict{}, fmt.Errorf("rules: Check wants exactly one of walk, monitor, sync; got %v", perm)
	}
	if s == nil {
		return Verdict{Allowed: true}, nil
	}
	var subject []rune
	for i := range s.rules {
		r := &s.rules[i]
		if !r.appliesTo(isDir, perm) {
			continue
		}
		if subject == nil {
			subject = bytesToRunes(relPath)
		}
		ok, err := r.re.MatchRunes(subject)
		if err != nil {
			// regexp2 fails a match only when it runs out of time;
			// its message would repeat the whole (re-encoded) path,
			// so ours quotes the original bytes instead.
			return Verdict{}, fmt.Errorf("rules file %s line %d: regex %q on path %q: %w (limit %v)",
				s.file, r.Line, r.Pattern(), relPath, ErrMatchTimeout, r.re.MatchTimeout)
		}
		if ok {
			return Verdict{Allowed: r.Include, Rule: r}, nil
		}
	}
	return Verdict{Allowed: true}, nil
}

// The convenience checks below fail closed: if a match times out, the
// action is refused, so an exclude rule cannot be bypassed by a slow regex.
// Callers that must report the error use Check.

// Walk reports whether the directory at relPath may be walked into.
func (s *Set) Walk(relPath string) bool { return s.allowed(relPath, true, Walk) }

// Monitor reports whether the directory at relPath may be watched.
func (s *Set) Monitor(relPath string) bool { return s.allowed(relPath, true, Monitor) }

// Sync reports whether the file or directory at relPath may be synced.
func (s *Set) Sync(relPath string, isDir bool) bool { return s.allowed(relPath, isDir, Sync) }

func (s *Set) allowed(relPath string, isDir bool, perm Perm) bool {
	v, err := s.Check(relPath, isDir, perm)
	return err == nil && v.Allowed
}

// Explanation says how one permission was decided, for --check-rules.
type Explanation struct {
	Perm Perm
	Verdict
}

// String renders e.g. `sync: excluded by line 3 "-d/tmp$"` or
// `walk: allowed (no rule matched: default)`.
func (e Explanation) String() string {
	if e.Rule == nil {
		return e.Perm.String() + ": allowed (no rule matched: default)"
	}
	verb := "excluded"
	if e.Allowed {
		verb = "allowed"
	}
	return fmt.Sprintf("%v: %s by line %d %q", e.Perm, verb, e.Rule.Line, e.Rule.Text)
}

// Explain decides every relevant permission for relPath: walk, monitor and
// sync for a directory, sync alone for a file.
func (s *Set) Explain(relPath string, isDir bool) ([]Explanation, error) {
	perms := []Perm{Sync}
	if isDir {
		perms = []Perm{Walk, Monitor, Sync}
	}
	out := make([]Explanation, 0, len(perms))
	for _, p := range perms {
		v, err := s.Check(relPath, isDir, p)
		if err != nil {
			return nil, err
		}
		out = append(out, Explanation{Perm: p, Verdict: v})
	}
	return out, nil
}

// RelPath converts a path given by a user (absolute, or relative to the
// watch directory) into the form rules match: relative to watchDir,
// cleaned, "" for watchDir itself. It fails for paths outside watchDir.
// It is purely lexical: symlinks are not resolved.
func RelPath(watchDir, path string) (string, error) {
	rel := filepath.Clean(path)
	if filepath.IsAbs(path) {
		var err error
		if rel, err = filepath.Rel(filepath.Clean(watchDir), rel); err != nil {
			return "", fmt.Errorf("path %q: %w", path, err)
		}
	}
	if rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
		return "", fmt.Errorf("path %q is outside the watch directory %q", path, watchDir)
	}
	if rel == "." {
		return "", nil
	}
	return filepath.ToSlash(rel), nil
}
