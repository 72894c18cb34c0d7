// Package config reads clsync's configuration file.
//
// clsync 0.4.5 loads its config with GLib's g_key_file_load_from_file and
// reads each option with g_key_file_get_value, so the format is GLib's
// key-file format and a value is the raw text after "=". Parse follows GLib
// 2.74's parser (glib/gkeyfile.c: g_key_file_parse_data,
// g_key_file_parse_line, g_key_file_is_key_name, g_key_file_is_group_name)
// line by line, so that, but for the differences listed further down, it
// accepts the files clsync accepts, with the same groups, keys and values
// (glib_test.go checks this against GLib itself):
//
//   - Lines end at "\n"; one "\r" before the "\n" is dropped (CRLF files).
//     A last line without "\n" keeps a trailing "\r". A lone "\r" does not
//     end a line.
//   - Leading whitespace of a line (space, \t, \f, \r, but not \v) is
//     skipped. A line that is then empty or starts with "#" is a comment.
//     There are no trailing comments: "a = 1 # one" has the value "1 # one".
//   - "[name]" starts a group, optionally followed by spaces and tabs. The
//     name is not empty and holds no "[", "]" or ASCII control character.
//     A group that appears twice is one group: the second section adds to
//     the first, as GLib's g_key_file_add_group does.
//   - "key = value": the key ends at the first "=" and loses its trailing
//     whitespace; the value loses its leading whitespace only. Trailing
//     whitespace stays in the value, as GLib keeps it (its writer escapes
//     only leading spaces, so trailing ones are part of the value). "key ="
//     is the empty value. Escapes such as "\s" or "\n" are kept as written:
//     g_key_file_get_value does not decode them.
//   - A key may carry a locale, "key[de_DE.UTF-8@euro]". GLib keeps such a
//     key under its full name (or drops it, depending on the environment's
//     locale) and clsync never asks for it, so it has no effect there. Here
//     it is kept as the separate key "key[de_DE.UTF-8@euro]", so the caller,
//     which knows the option names, reports it as an unknown key instead of
//     silently ignoring it.
//   - A key given twice in a group: the last assignment wins.
//   - Anything else is an error, as is a key before the first group.
//   - Bytes that are not UTF-8 are kept: g_key_file_get_value does not check
//     the encoding, and a value is often a path, which on Linux is bytes.
//
// Deliberate differences from GLib, all on input no real config contains:
// a NUL byte is an error (GLib silently cuts the line at it); GLib's check
// that an "Encoding" key in the first group says UTF-8 is not done (the
// caller rejects "Encoding" as an unknown option anyway); after a group's
// "]" only spaces and tabs may follow, where GLib also lets stray UTF-8
// continuation bytes through.
//
// Block adds clsync's block inheritance (gkf_parse in clsync's main.c), and
// Find picks the file to read (configs_parse).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// inheritsKey is the key that names a block's parent block.
const inheritsKey = "config-block-inherits"

// ErrSyntax matches, with errors.Is, every *Error: the file's content is
// invalid. The caller maps it to EINVAL, as clsync does for bad input.
var ErrSyntax = errors.New("invalid config file")

// Error is invalid content of a config file: a line GLib would reject, a
// missing block, or a broken chain of config-block-inherits. The caller
// uses it too, for problems only it can see, such as unknown keys, so that
// all such messages read alike.
type Error struct {
	Path string
	Line int // 1-based; 0 when the problem is not on one line
	Msg  string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("config file %s: %s", e.Path, e.Msg)
	}
	return fmt.Sprintf("config file %s line %d: %s", e.Path, e.Line, e.Msg)
}

func (e *Error) Unwrap() error { return ErrSyntax }

// Entry is one key of a block, with the raw value g_key_file_get_value
// would return.
type Entry struct {
	Key, Value string
	Group      string // the block the entry was written in
	Line       int    // the line of the assignment that took effect
}

// KeyFile is a parsed config file.
type KeyFile struct {
	Path   string  // as given to Parse or Load, for messages
	groups []group // in order of first appearance
	byName map[string]int
}

type group struct {
	name    string
	entries []Entry // in order of first appearance, last value
	byKey   map[string]int
}

// Parse parses a config file's content; path is used in messages only.
func Parse(data []byte, path string) (*KeyFile, error) {
	k := &KeyFile{Path: path, byName: map[string]int{}}
	cur := -1 // index of the current group; -1 before the first one
	for n := 1; len(data) > 0; n++ {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
			// Only a line ended by "\n" loses its "\r", as in GLib.
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
		} else {
			line, data = data, nil
		}
		var err error
		if cur, err = k.parseLine(string(line), n, cur); err != nil {
			return nil, &Error{Path: path, Line: n, Msg: err.Error()}
		}
	}
	return k, nil
}

// parseLine handles line n, without its line ending, and returns the
// current group after it.
func (k *KeyFile) parseLine(line string, n, cur int) (int, error) {
	if strings.IndexByte(line, 0) >= 0 {
		return cur, errors.New("line contains a NUL byte")
	}
	s := strings.TrimLeftFunc(line, isRuneSpace)
	if s == "" || s[0] == '#' {
		return cur, nil
	}
	if name, ok := groupLine(s); ok {
		if !isGroupName(name) {
			return cur, fmt.Errorf("invalid block name %s", quote(name))
		}
		return k.group(name), nil
	}
	eq := strings.IndexByte(s, '=')
	if eq <= 0 { // no "=", or an empty key
		return cur, fmt.Errorf("line %s is not a key=value pair, a [block] or a #comment", quote(line))
	}
	if cur < 0 {
		return cur, errors.New("key=value before the first [block]")
	}
	key := strings.TrimRightFunc(s[:eq], isRuneSpace)
	if !isKeyName(key) {
		return cur, fmt.Errorf("invalid key name %s", quote(key))
	}
	k.groups[cur].set(Entry{
		Key:   key,
		Value: strings.TrimLeftFunc(s[eq+1:], isRuneSpace),
		Group: k.groups[cur].name,
		Line:  n,
	})
	return cur, nil
}

// isSpace is g_ascii_isspace, which unlike C's isspace does not count
// "\v" as whitespace, for a line, which holds no "\n".
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\f' || c == '\r'
}

// isRuneSpace lets strings.Trim*Func apply isSpace; a multi-byte rune is
// never ASCII whitespace.
func isRuneSpace(r rune) bool { return r < utf8.RuneSelf && isSpace(byte(r)) }

// groupLine reports whether s is a group line, "[" up to the first "]"
// followed by nothing but spaces and tabs (g_key_file_line_is_group), and
// returns the text between the brackets.
func groupLine(s string) (string, bool) {
	if s[0] != '[' {
		return "", false
	}
	end := strings.IndexByte(s, ']')
	if end < 0 || strings.TrimLeft(s[end+1:], " \t") != "" {
		return "", false
	}
	return s[1:end], true
}

// isGroupName is g_key_file_is_group_name: not empty, no brackets, no ASCII
// control characters.
func isGroupName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c == '[' || c == ']' || c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// isKeyName is g_key_file_is_key_name for a key that has no "=" and no
// leading or trailing whitespace: no brackets except one trailing locale
// "[xx_YY.codeset@modifier]" made of letters, digits and "-_.@", and no
// space just before that locale.
func isKeyName(key string) bool {
	i := strings.IndexAny(key, "[]")
	if i < 0 {
		return true
	}
	if i == 0 || key[i] == ']' || key[i-1] == ' ' || key[len(key)-1] != ']' {
		return false
	}
	for _, r := range key[i+1 : len(key)-1] {
		// An invalid byte decodes as RuneError, which is not a letter.
		if !unicode.IsLetter(r) && !unicode.IsNumber(r) && !strings.ContainsRune("-_.@", r) {
			return false
		}
	}
	return true
}

// group returns the index of the group called name, adding it if new.
func (k *KeyFile) group(name string) int {
	if i, ok := k.byName[name]; ok {
		return i
	}
	k.byName[name] = len(k.groups)
	k.groups = append(k.groups, group{name: name, byKey: map[string]int{}})
	return len(k.groups) - 1
}

func (g *group) set(e Entry) {
	if i, ok := g.byKey[e.Key]; ok {
		g.entries[i] = e
		return
	}
	g.byKey[e.Key] = len(g.entries)
	g.entries = append(g.entries, e)
}

// HasGroup reports whether the file has the block [name].
func (k *KeyFile) HasGroup(name string) bool {
	_, ok := k.byName[name]
	return ok
}

// Block returns the effective entries of block name, following clsync's
// inheritance: the block's config-block-inherits names its parent, whose
// entries apply where the block does not set the key, and so on up the
// chain. The block's own entries come first, in file order, then those
// inherited from each ancestor in turn. An empty config-block-inherits
// means no parent, as it does in clsync (it names no block).
//
// clsync 0.4.5 ignores a block that does not exist and loops forever on a
// cycle; here both are an *Error. The caller decides whether a missing
// top-level block matters (with HasGroup): the default block may be absent,
// one named with --config-block may not.
//
// The value of config-block-inherits is used as written; clsync would
// %-expand it, but no real config names a parent block by %option%.
func (k *KeyFile) Block(name string) ([]Entry, error) {
	return k.resolve(name, nil)
}

// BlockInheriting is Block with parent as the parent of block name in place
// of the block's own config-block-inherits, as clsync's
// --config-block-inherits on the command line does. The ancestors of parent
// still come from the file. An empty parent means none.
func (k *KeyFile) BlockInheriting(name, parent string) ([]Entry, error) {
	return k.resolve(name, &parent)
}

func (k *KeyFile) resolve(name string, parent *string) ([]Entry, error) {
	gi, ok := k.byName[name]
	if !ok {
		return nil, &Error{Path: k.Path, Msg: fmt.Sprintf("block %s not found", bracket(name))}
	}
	var out []Entry
	have := map[string]bool{}
	chain := []string{name}
	for {
		g := &k.groups[gi]
		for _, e := range g.entries {
			if !have[e.Key] {
				have[e.Key] = true
				out = append(out, e)
			}
		}
		var next string
		line := 0 // no line when the parent comes from the command line
		if parent != nil && len(chain) == 1 {
			next = *parent
		} else if i, ok := g.byKey[inheritsKey]; ok {
			next, line = g.entries[i].Value, g.entries[i].Line
		}
		if next == "" {
			return out, nil
		}
		for _, seen := range chain {
			if seen == next {
				path := make([]string, 0, len(chain)+1)
				for _, c := range append(chain, next) {
					path = append(path, bracket(c))
				}
				return nil, &Error{Path: k.Path, Line: line,
					Msg: inheritsKey + " loop: " + strings.Join(path, " -> ")}
			}
		}
		if gi, ok = k.byName[next]; !ok {
			return nil, &Error{Path: k.Path, Line: line, Msg: fmt.Sprintf(
				"block %s inherits from block %s, which does not exist", bracket(g.name), bracket(next))}
		}
		chain = append(chain, next)
	}
}

// bracket writes a block name as in the file, "[name]", quoting it when it
// has characters that would garble a message.
func bracket(name string) string {
	if q := strconv.Quote(name); q[1:len(q)-1] != name {
		return "[" + q + "]"
	}
	return "[" + name + "]"
}

// quote quotes text from the file for a message, shortened so that a
// binary file given as config does not flood the terminal.
func quote(s string) string {
	const limit = 60
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "..."
	}
	return strconv.Quote(s)
}
