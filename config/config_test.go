package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

// manExample is the example of clsync(1), section CONFIGURATION FILE.
const manExample = `[default]
background = 1
mode = rsyncshell
debug = 0
output = syslog
label = default
pid-file = /var/run/clsync-%label%.pid

[debug]
config-block-inherits = default
debug = 5
background = 0
output = stderr

[test]
mode=rsyncdirect
debug=3
`

// dump writes what Parse found, one line per group and per entry, so that
// test tables can say what they expect at a glance.
func dump(k *KeyFile) string {
	var b strings.Builder
	for _, g := range k.groups {
		fmt.Fprintf(&b, "[%s]\n", g.name)
		for _, e := range g.entries {
			if e.Group != g.name {
				fmt.Fprintf(&b, "  entry %q has group %q\n", e.Key, e.Group)
			}
			fmt.Fprintf(&b, "  %s=%q @%d\n", e.Key, e.Value, e.Line)
		}
	}
	return b.String()
}

// parseCases are the parser's table; glib_test.go also checks that GLib
// agrees with each case not marked deviation.
var parseCases = []struct {
	name string
	in   string
	want string // dump of the result, when err is ""
	err  string // expected error message
	// deviation marks input where Parse deliberately differs from GLib.
	deviation bool
}{
	{name: "man page example", in: manExample, want: `[default]
  background="1" @2
  mode="rsyncshell" @3
  debug="0" @4
  output="syslog" @5
  label="default" @6
  pid-file="/var/run/clsync-%label%.pid" @7
[debug]
  config-block-inherits="default" @10
  debug="5" @11
  background="0" @12
  output="stderr" @13
[test]
  mode="rsyncdirect" @16
  debug="3" @17
`},
	{name: "empty file", in: "", want: ""},
	{name: "only comments", in: "# nothing\n\n   \n", want: ""},
	{name: "empty group", in: "[a]\n", want: "[a]\n"},
	{name: "comments", in: "# head\n  # indented\n[a]\n#k=v\n\t# k=v\nk=v # not a comment\n", want: `[a]
  k="v # not a comment" @6
`},
	{name: "blank and whitespace-only lines", in: "\n\n[a]\n \t \n\f\r\nk=v\n\n", want: `[a]
  k="v" @6
`},
	{name: "vertical tab is not whitespace", in: "[a]\n\vk\v = \vv\n", want: "[a]\n  \vk\v=\"\\vv\" @2\n"},
	{name: "whitespace around = and trailing whitespace kept", in: "[a]\n  key \t=  \t value with  spaces \t\nb=c\n", want: `[a]
  key="value with  spaces \t" @2
  b="c" @3
`},
	{name: "= in value", in: "[a]\nk = a=b==\nfilter==x\n", want: `[a]
  k="a=b==" @2
  filter="=x" @3
`},
	{name: "empty values", in: "[a]\nk =\nl=\nm =   \t\n", want: `[a]
  k="" @2
  l="" @3
  m="" @4
`},
	{name: "escapes kept raw", in: "[a]\nk=\\s lead\\ttab\\nnl\\\\ \\x\n", want: `[a]
  k="\\s lead\\ttab\\nnl\\\\ \\x" @2
`},
	{name: "handler arguments key", in: "[a]\n-- = -aH %watch-dir%/ %destination-dir%/\n--- = x\n", want: `[a]
  --="-aH %watch-dir%/ %destination-dir%/" @2
  ---="x" @3
`},
	{name: "spaces inside keys and groups", in: "[ my block ]\nsome key = 1\n", want: `[ my block ]
  some key="1" @2
`},
	{name: "group followed by spaces and tabs", in: "  [a] \t \n", want: "[a]\n"},
	{name: "localized keys are separate keys", in: "[a]\nk=1\nk[de]=2\nk[de_DE.UTF-8@euro]=3\nk[]=4\nk\t[fr]=5\nk[é٣]=6\n", want: `[a]
  k="1" @2
  k[de]="2" @3
  k[de_DE.UTF-8@euro]="3" @4
  k[]="4" @5
  k	[fr]="5" @6
  k[é٣]="6" @7
`},
	{name: "duplicate keys: last wins", in: "[a]\nk=1\nl=2\nk = 3\n", want: `[a]
  k="3" @4
  l="2" @3
`},
	{name: "duplicate groups are merged", in: "[a]\nk=1\n[b]\nx=y\n[a]\nk=2\nm=3\n", want: `[a]
  k="2" @6
  m="3" @7
[b]
  x="y" @4
`},
	{name: "CRLF", in: "[a]\r\nk = v\r\n\r\nl=\r\n", want: `[a]
  k="v" @2
  l="" @4
`},
	{name: "one CR is dropped per line", in: "[a]\nk=v\r\r\n", want: `[a]
  k="v\r" @2
`},
	{name: "lone CR does not end a line", in: "[a]\nk=v\rl=w\n", want: `[a]
  k="v\rl=w" @2
`},
	{name: "CR kept on a last line without newline", in: "[a]\nk=v\r", want: `[a]
  k="v\r" @2
`},
	{name: "no trailing newline", in: "[a]\nk = v", want: `[a]
  k="v" @2
`},
	{name: "non-UTF-8 kept raw", in: "[a]\nk=\xff\xfe/path\n[\xe9t\xe9]\n\xe9=1\n", want: `[a]
  k="\xff\xfe/path" @2
[` + "\xe9t\xe9" + `]
  ` + "\xe9" + `="1" @4
`},
	{name: "UTF-8", in: "[été]\nchemin=/srv/données\n", want: `[été]
  chemin="/srv/données" @2
`},
	{name: "Encoding key is not special", in: "[a]\nEncoding=latin1\n", deviation: true, want: `[a]
  Encoding="latin1" @2
`},

	{name: "key before any group", in: "# ok\n\nk=v\n[a]\n", err: "config file t.conf line 3: key=value before the first [block]"},
	{name: "garbage line", in: "[a]\nk=v\njust some text\n", err: `config file t.conf line 3: line "just some text" is not a key=value pair, a [block] or a #comment`},
	{name: "garbage before any group", in: "hello\n", err: "line 1: line \"hello\" is not"},
	{name: "empty key", in: "[a]\n = v\n", err: `line 2: line " = v" is not`},
	{name: "unclosed group", in: "[a\n", err: `line 1: line "[a" is not`},
	{name: "text after group", in: "[a] # comment\n", err: `line 1: line "[a] # comment" is not`},
	{name: "CR after group on last line", in: "[a]\r", err: `line 1: line "[a]\r" is not`},
	{name: "empty group name", in: "[]\n", err: `line 1: invalid block name ""`},
	{name: "bracket in group name", in: "[a[b]\n", err: `line 1: invalid block name "a[b"`},
	{name: "control character in group name", in: "[a\tb]\n", err: `line 1: invalid block name "a\tb"`},
	{name: "bracket key", in: "[a]\n[b]=1\n", err: `line 2: invalid key name "[b]"`},
	{name: "closing bracket in key", in: "[a]\nk]=1\n", err: `line 2: invalid key name "k]"`},
	{name: "space before locale", in: "[a]\nk [de]=1\n", err: `line 2: invalid key name "k [de]"`},
	{name: "bad locale character", in: "[a]\nk[de DE]=1\n", err: `line 2: invalid key name "k[de DE]"`},
	{name: "text after locale", in: "[a]\nk[de]x=1\n", err: `line 2: invalid key name "k[de]x"`},
	{name: "unclosed locale", in: "[a]\nk[de=1\n", err: `line 2: invalid key name "k[de"`},
	{name: "non-UTF-8 locale", in: "[a]\nk[\xe9]=1\n", err: `line 2: invalid key name "k[\xe9]"`},
	{name: "vertical tab line", in: "[a]\n\v\n", err: `line 2: line "\v" is not`},
	{name: "byte order mark", in: "\ufeff[a]\n", err: `line 1: line "\ufeff[a]" is not`},
	{name: "long garbage is shortened", in: strings.Repeat("x", 100), err: `line "` + strings.Repeat("x", 60) + `"... is not`},
	{name: "NUL byte", in: "[a]\nk=v\x00w\n", deviation: true, err: "line 2: line contains a NUL byte"},
	{name: "NUL starting a line", in: "[a]\n\x00k=v\n", deviation: true, err: "line 2: line contains a NUL byte"},
	{name: "continuation byte after group", in: "[a]\x80\n", deviation: true, err: `line 1: line "[a]\x80" is not`},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			k, err := Parse([]byte(tc.in), "t.conf")
			if tc.err != "" {
				if err == nil {
					t.Fatalf("no error; parsed:\n%s", dump(k))
				}
				if !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %q does not contain %q", err, tc.err)
				}
				var e *Error
				if !errors.As(err, &e) || e.Path != "t.conf" || e.Line == 0 || !errors.Is(err, ErrSyntax) {
					t.Errorf("error %#v is not an *Error with path and line matching ErrSyntax", err)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error %q is more than one line", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.Path != "t.conf" {
				t.Errorf("Path = %q", k.Path)
			}
			if got := dump(k); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestHasGroup(t *testing.T) {
	k, err := Parse([]byte(manExample), "t.conf")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"default": true, "debug": true, "test": true, "foo": false, "": false, "Default": false} {
		if got := k.HasGroup(name); got != want {
			t.Errorf("HasGroup(%q) = %v", name, got)
		}
	}
}

// entries writes Block's result as "group:line key=value" lines.
func entries(es []Entry) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "%s:%d %s=%s\n", e.Group, e.Line, e.Key, e.Value)
	}
	return b.String()
}

func TestBlock(t *testing.T) {
	const chains = `[a]
config-block-inherits = b
x = a
[b]
config-block-inherits = c
x = b
y = b
[c]
y = c
z = c
[self]
config-block-inherits = self
[loop1]
config-block-inherits = loop2
[loop2]
config-block-inherits = loop3
[loop3]
config-block-inherits = loop1
[orphan]
k = v
config-block-inherits = defualt
[noparent]
config-block-inherits =
k = v
[spaced]
config-block-inherits = c 
[odd]
config-block-inherits = x` + "\x1b" + `y
`
	for _, tc := range []struct {
		name, in, block string
		want            string // entries, when err is ""
		err             string
	}{
		{name: "man page debug", in: manExample, block: "debug", want: `debug:10 config-block-inherits=default
debug:11 debug=5
debug:12 background=0
debug:13 output=stderr
default:3 mode=rsyncshell
default:6 label=default
default:7 pid-file=/var/run/clsync-%label%.pid
`},
		{name: "man page default", in: manExample, block: "default", want: `default:2 background=1
default:3 mode=rsyncshell
default:4 debug=0
default:5 output=syslog
default:6 label=default
default:7 pid-file=/var/run/clsync-%label%.pid
`},
		{name: "man page test inherits nothing", in: manExample, block: "test", want: "test:16 mode=rsyncdirect\ntest:17 debug=3\n"},
		{name: "chain", in: chains, block: "a", want: `a:2 config-block-inherits=b
a:3 x=a
b:7 y=b
c:10 z=c
`},
		{name: "middle of chain", in: chains, block: "b", want: "b:5 config-block-inherits=c\nb:6 x=b\nb:7 y=b\nc:10 z=c\n"},
		{name: "empty parent means none", in: chains, block: "noparent", want: "noparent:23 config-block-inherits=\nnoparent:24 k=v\n"},
		{name: "empty block", in: "[a]\n", block: "a", want: ""},
		{name: "merged duplicate group", in: "[p]\nk=1\n[c]\nconfig-block-inherits=p\n[p]\nk=2\nl=3\n", block: "c",
			want: "c:4 config-block-inherits=p\np:6 k=2\np:7 l=3\n"},
		{name: "missing block", in: manExample, block: "foo", err: "config file t.conf: block [foo] not found"},
		{name: "missing block with odd name", in: manExample, block: "a\nb", err: `config file t.conf: block ["a\nb"] not found`},
		{name: "self loop", in: chains, block: "self", err: "config file t.conf line 12: config-block-inherits loop: [self] -> [self]"},
		{name: "loop", in: chains, block: "loop1", err: "config file t.conf line 18: config-block-inherits loop: [loop1] -> [loop2] -> [loop3] -> [loop1]"},
		{name: "loop entered midway", in: "[s]\nconfig-block-inherits=loop1\n" + chains, block: "s",
			err: "config file t.conf line 20: config-block-inherits loop: [s] -> [loop1] -> [loop2] -> [loop3] -> [loop1]"},
		{name: "missing parent", in: chains, block: "orphan", err: "config file t.conf line 21: block [orphan] inherits from block [defualt], which does not exist"},
		{name: "trailing space in parent", in: chains, block: "spaced", err: "line 26: block [spaced] inherits from block [c ], which does not exist"},
		{name: "control character in parent", in: chains, block: "odd", err: `line 28: block [odd] inherits from block ["x\x1by"], which does not exist`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := Parse([]byte(tc.in), "t.conf")
			if err != nil {
				t.Fatal(err)
			}
			es, err := k.Block(tc.block)
			checkBlock(t, es, err, tc.want, tc.err)
		})
	}
}

func checkBlock(t *testing.T, es []Entry, err error, want, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil {
			t.Fatalf("no error; entries:\n%s", entries(es))
		}
		if !strings.Contains(err.Error(), wantErr) {
			t.Errorf("error %q does not contain %q", err, wantErr)
		}
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrSyntax) {
			t.Errorf("error %#v is not an *Error matching ErrSyntax", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := entries(es); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestBlockInheriting(t *testing.T) {
	const in = manExample + `
[loop]
config-block-inherits = debug
`
	k, err := Parse([]byte(in), "t.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, block, parent string
		want, err           string
	}{
		{name: "parent replaces the block's own", block: "debug", parent: "test", want: `debug:10 config-block-inherits=default
debug:11 debug=5
debug:12 background=0
debug:13 output=stderr
test:16 mode=rsyncdirect
`},
		{name: "parent for a block without one", block: "test", parent: "default", want: `test:16 mode=rsyncdirect
test:17 debug=3
default:2 background=1
default:5 output=syslog
default:6 label=default
default:7 pid-file=/var/run/clsync-%label%.pid
`},
		{name: "ancestors of parent come from the file", block: "test", parent: "debug", want: `test:16 mode=rsyncdirect
test:17 debug=3
debug:10 config-block-inherits=default
debug:12 background=0
debug:13 output=stderr
default:6 label=default
default:7 pid-file=/var/run/clsync-%label%.pid
`},
		{name: "empty parent means none", block: "debug", parent: "", want: `debug:10 config-block-inherits=default
debug:11 debug=5
debug:12 background=0
debug:13 output=stderr
`},
		{name: "missing parent", block: "debug", parent: "nope", err: "config file t.conf: block [debug] inherits from block [nope], which does not exist"},
		{name: "loop back to the block", block: "default", parent: "loop", err: "config file t.conf line 10: config-block-inherits loop: [default] -> [loop] -> [debug] -> [default]"},
		{name: "own parent", block: "test", parent: "test", err: "config file t.conf: config-block-inherits loop: [test] -> [test]"},
		{name: "missing block", block: "nope", parent: "default", err: "config file t.conf: block [nope] not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es, err := k.BlockInheriting(tc.block, tc.parent)
			checkBlock(t, es, err, tc.want, tc.err)
		})
	}
}

// TestBlockReturnsCopies checks that a caller editing Block's result does
// not change the KeyFile.
func TestBlockReturnsCopies(t *testing.T) {
	k, err := Parse([]byte(manExample), "t.conf")
	if err != nil {
		t.Fatal(err)
	}
	es, _ := k.Block("default")
	es[0].Value = "changed"
	again, _ := k.Block("default")
	if again[0].Value != "1" {
		t.Errorf("Block result shares memory with the KeyFile: %q", again[0].Value)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "clsync.conf")
	if err := os.WriteFile(good, []byte(manExample), 0o644); err != nil {
		t.Fatal(err)
	}
	k, err := Load(good)
	if err != nil {
		t.Fatal(err)
	}
	if k.Path != good || !k.HasGroup("debug") {
		t.Errorf("Load = %+v", k)
	}

	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte("[default]\ndelay = 1\noops\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad)
	if want := "config file " + bad + " line 3: "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Load(bad) = %v, want prefix %q", err, want)
	}

	_, err = Load(filepath.Join(dir, "missing.conf"))
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) {
		t.Errorf("Load(missing) = %#v, want a *fs.PathError matching fs.ErrNotExist", err)
	}

	_, err = Load(dir)
	if want := "config file " + dir + ": not a regular file"; err == nil || err.Error() != want || !errors.Is(err, ErrSyntax) {
		t.Errorf("Load(dir) = %v, want %q", err, want)
	}

	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	// Opening a FIFO for reading blocks until a writer comes; keep one
	// waiting so that Load gets as far as its check.
	go func() {
		if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			w.Close()
		}
	}()
	if _, err = Load(fifo); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Load(fifo) = %v", err)
	}

	if os.Geteuid() != 0 { // root reads anything
		secret := filepath.Join(dir, "secret.conf")
		if err := os.WriteFile(secret, []byte(manExample), 0o000); err != nil {
			t.Fatal(err)
		}
		if _, err = Load(secret); !errors.Is(err, fs.ErrPermission) || !errors.As(err, &pe) {
			t.Errorf("Load(unreadable) = %#v, want a *fs.PathError matching fs.ErrPermission", err)
		}
	}
}

func TestSearchPaths(t *testing.T) {
	want := []string{
		"/home/u/.clsync.conf",
		"/etc/clsync/clsync.conf",
		"/etc/clsync.conf",
		"/usr/local/etc/clsync/clsync.conf",
		"/usr/local/etc/clsync.conf",
	}
	if got := SearchPaths("/home/u/"); !reflect.DeepEqual(got, want) {
		t.Errorf("SearchPaths = %q", got)
	}
	if got := SearchPaths(""); !reflect.DeepEqual(got, want[1:]) {
		t.Errorf("SearchPaths without home = %q", got)
	}
	// Callers may change the list they got.
	SearchPaths("/h")[1] = "x"
	if got := SearchPaths("/h")[1]; got != want[1] {
		t.Errorf("SearchPaths shares its list: %q", got)
	}
}

func TestFind(t *testing.T) {
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	write := func(name string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(path(name), []byte("[default]\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("b.conf", 0o644)
	write("c.conf", 0o644)
	write("unreadable.conf", 0o000)
	write("file", 0o644)
	if err := os.Symlink(path("nowhere"), path("dangling.conf")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path("dir.conf"), 0o755); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		paths []string
		want  string
	}{
		{name: "none given", paths: nil, want: ""},
		{name: "none exists", paths: []string{path("x"), path("y")}, want: ""},
		{name: "first that exists", paths: []string{path("a.conf"), path("b.conf"), path("c.conf")}, want: path("b.conf")},
		{name: "path through a file", paths: []string{path("file/.clsync.conf"), path("c.conf")}, want: path("c.conf")},
		// These exist, so they are returned and Load reports the problem,
		// where clsync would quietly read the next file.
		{name: "unreadable", paths: []string{path("unreadable.conf"), path("c.conf")}, want: path("unreadable.conf")},
		{name: "dangling symlink", paths: []string{path("dangling.conf"), path("c.conf")}, want: path("dangling.conf")},
		{name: "directory", paths: []string{path("dir.conf"), path("c.conf")}, want: path("dir.conf")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Find(tc.paths)
			if err != nil || got != tc.want {
				t.Errorf("Find = %q, %v; want %q", got, err, tc.want)
			}
		})
	}

	t.Run("unsearchable directory", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root can search any directory")
		}
		locked := path("locked")
		if err := os.Mkdir(locked, 0o000); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(locked, 0o755)
		got, err := Find([]string{filepath.Join(locked, "clsync.conf"), path("c.conf")})
		if !errors.Is(err, fs.ErrPermission) || got != "" {
			t.Errorf("Find = %q, %v; want an fs.ErrPermission error", got, err)
		}
	})
}
