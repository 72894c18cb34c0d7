package cli

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const sampleConfig = `# the man page's example, plus handler templates
[default]
background = 0
mode = rsyncshell
debug = 0
output = stderr
label = default
pid-file = /var/run/clsync-%label%.pid
ignore-exitcode = 23,24

[debug]
config-block-inherits = default
debug = 5
output = stderr

[test]
mode=rsyncdirect
debug=3
delay-sync = 7
-- = -aH --delete %watch-dir%/ "%destination-dir%/with space"
`

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "clsync.conf")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigFile(t *testing.T) {
	conf := writeConfig(t, sampleConfig)
	load := func(args ...string) *Settings {
		t.Helper()
		s, _, err := loadSettings(append([]string{"-H", conf}, args...), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := load()
	if s.Mode != "rsyncshell" || s.Label != "default" || s.PidFile != "/var/run/clsync-default.pid" || !s.IgnoreExitCodes[24] {
		t.Errorf("default block: %+v", s)
	}
	s = load("-K", "debug")
	if s.Debug != 5 || s.Mode != "rsyncshell" {
		t.Errorf("inherited block: debug %d mode %q", s.Debug, s.Mode)
	}
	s = load("-K", "test", "--label=cli", "-w", "9")
	if s.Mode != "rsyncdirect" || s.SyncDelay != 9*time.Second || s.Label != "cli" {
		t.Errorf("command line must win: mode %q delay %v label %q", s.Mode, s.SyncDelay, s.Label)
	}
	want := []string{"-aH", "--delete", "%watch-dir%/", "%destination-dir%/with space"}
	if !reflect.DeepEqual(s.Template, want) {
		t.Errorf("template %q, want %q", s.Template, want)
	}
	s = load("-K", "test", "--", "x")
	if !reflect.DeepEqual(s.Template, []string{"x"}) {
		t.Errorf("command-line template must win: %q", s.Template)
	}
	s = load("-K", "test", "--config-block-inherits=default")
	if s.Label != "default" {
		t.Errorf("--config-block-inherits on the command line: label %q", s.Label)
	}
}

func TestConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content string
		args          []string
		kind          error
		want          string
	}{
		{"unknown key", "[default]\nmode = rsyncdirect\ndelay-colect = 3\n", nil, ErrInvalid, `line 3: unknown key "delay-colect" in block [default]`},
		{"bad value", "[default]\ndelay-sync = soon\n", nil, ErrInvalid, `line 2: option --delay-sync: "soon" is not a number`},
		{"syntax", "[default]\nthis is not a key file line\n", nil, ErrInvalid, "line 2"},
		{"missing block", "[default]\n", []string{"-K", "nosuch"}, ErrInvalid, "no block [nosuch]"},
		{"cli-only key", "[default]\nhelp = 1\n", nil, ErrInvalid, `key "help" is a command-line option`},
		{"inherit loop", "[default]\nconfig-block-inherits = b\n[b]\nconfig-block-inherits = default\n", nil, ErrInvalid, "loop"},
		{"missing file", "", []string{"-H", filepath.Join(dir, "missing.conf")}, fs.ErrNotExist, "missing.conf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.content != "" {
				args = append([]string{"-H", writeConfig(t, tc.content)}, args...)
			}
			_, err := Load(args, t.TempDir())
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want %v with %q", err, tc.kind, tc.want)
			}
		})
	}
}

// Without -H, ~/.clsync.conf is read first; -H /NULL/ reads nothing.
func TestConfigSearch(t *testing.T) {
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, ".clsync.conf"), []byte("[default]\nlabel = fromhome\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, _, err := loadSettings(nil, home)
	if err != nil {
		t.Fatal(err)
	}
	if s.Label != "fromhome" {
		t.Errorf("label %q, want fromhome", s.Label)
	}
	s, _, err = loadSettings([]string{"-H", "/NULL/"}, home)
	if err != nil {
		t.Fatal(err)
	}
	if s.Label != "nolabel" {
		t.Errorf("-H /NULL/ read a config: label %q", s.Label)
	}
}

// The example config file loads, block by block.
func TestExampleConfig(t *testing.T) {
	conf := filepath.Join("..", "..", "examples", "config", "clsync.conf")
	for _, tc := range []struct {
		block, label, watch string
		collect             time.Duration
	}{
		{"www", "www", "/srv/www", 5 * time.Second},
		{"spool", "spool", "/var/spool/app", 0},
	} {
		s, _, err := loadSettings([]string{"-H", conf, "-K", tc.block}, t.TempDir())
		if err != nil {
			t.Fatalf("block %s: %v", tc.block, err)
		}
		if s.Label != tc.label || s.WatchDir != tc.watch || s.CollectDelay != tc.collect || s.Mode != "rsyncdirect" || !s.IgnoreExitCodes[23] {
			t.Errorf("block %s: %+v", tc.block, s)
		}
		if err := checkConflicts(s); err != nil {
			t.Errorf("block %s: %v", tc.block, err)
		}
	}
}
