package cli

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func mustLoad(t *testing.T, args ...string) *Settings {
	t.Helper()
	s, _, err := loadSettings(append([]string{"-H", "/NULL/"}, args...), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSettingsValues(t *testing.T) {
	s := mustLoad(t, "-Mrsyncdirect", "-W/src", "--dest", "/dst", "-w", "0x10", "-t", "010", "-T", " 5 ",
		"-d", "-d", "-x", "23", "-x", "24,25", "-b1", "--label=web", "--pid-file=/run/clsync-%label%.pid",
		"--modification-signature=uid,gid", "--retries=0", "--", "-a", "%RSYNC-ARGS%")
	checks := []struct {
		name      string
		got, want any
	}{
		{"mode", s.Mode, "rsyncdirect"},
		{"watch", s.WatchDir, "/src"},
		{"dest", s.Destination, "/dst"},
		{"delay-sync hex", s.SyncDelay, 16 * time.Second},
		{"delay-collect octal", s.CollectDelay, 8 * time.Second},
		{"bigfile delay trimmed", s.BigFileDelay, 5 * time.Second},
		{"debug counted", s.Debug, 2},
		{"exit codes", s.IgnoreExitCodes, map[int]bool{23: true, 24: true, 25: true}},
		{"background", s.Background, true},
		{"pid-file expanded", s.PidFile, "/run/clsync-web.pid"},
		{"modsign", s.ModSignature, []string{"uid", "gid"}},
		{"retries", s.Retries, 0},
		{"template", s.Template, []string{"-a", "%RSYNC-ARGS%"}},
		{"default threshold", s.BigFileThreshold, int64(134217728)},
		{"default label in dump dir", mustLoad(t, "-Mrsyncdirect").DumpDir, "/tmp/clsync-dump-nolabel"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.name, c.got, c.want)
		}
	}
	if s := mustLoad(t, "-x", "23", "-x", "0,24"); !reflect.DeepEqual(s.IgnoreExitCodes, map[int]bool{24: true}) {
		t.Errorf("-x 0 must reset the list: %v", s.IgnoreExitCodes)
	}
	if s := mustLoad(t, "-d5", "--debug"); s.Debug != 6 {
		t.Errorf("-d5 --debug = %d, want 6", s.Debug)
	}
	if s := mustLoad(t, "--", ""); s.Template == nil || len(s.Template) != 0 {
		t.Errorf("-- '' must set an empty template, got %#v", s.Template)
	}
}

func TestSettingsBadValues(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-w", "abc"}, `option --delay-sync: "abc" is not a number`},
		{[]string{"-w", "-1"}, "is negative"},
		{[]string{"-t", "1s"}, "is not a number"},
		{[]string{"-B", "99999999999999999999"}, "is not a number"},
		{[]string{"-Mfoo"}, `option --mode: invalid value "foo"`},
		{[]string{"-p", "bogus"}, "option --threading"},
		{[]string{"-Y", "nowhere"}, "option --output"},
		{[]string{"-x", "abc"}, "option --ignore-exitcode"},
		{[]string{"-x", "256"}, "option --ignore-exitcode"},
		{[]string{"--modification-signature=uid,colour"}, `invalid item "colour"`},
		{[]string{"--cancel-syscalls=everything"}, "option --cancel-syscalls"},
		{[]string{"--custom-signals=29"}, "has no config block"},
		{[]string{"--socket-mod=999"}, "not an octal file mode"},
		{[]string{"--uid=no-such-user-here"}, "no such user"},
		{[]string{"-d", "--debug=x"}, "option --debug"},
		{[]string{"--pid-file=%a%", "--label=%pid-file%"}, ""},
	} {
		_, _, err := loadSettings(append([]string{"-H", "/NULL/"}, tc.args...), t.TempDir())
		if tc.want == "" {
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.args, err, tc.want)
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v is not ErrInvalid", tc.args, err)
		}
	}
}

func TestExpandLoop(t *testing.T) {
	_, _, err := loadSettings([]string{"-H", "/NULL/", "--pid-file=%status-file%", "--status-file=%pid-file%"}, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "loop") {
		t.Fatalf("err = %v, want a loop error", err)
	}
}

func TestConflicts(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-W/x"}, "--mode is not set"},
		{[]string{"-Mrsyncdirect"}, "--watch-dir is not set"},
		{[]string{"-Mrsyncdirect", "-W/x"}, "needs --destination-dir"},
		{[]string{"-Mshell", "-W/x"}, "--sync-handler is not set"},
		{[]string{"-Mso", "-W/x", "-Sx.so"}, "use --mode=plugin"},
		{[]string{"-Mrsyncdirect", "-W/x", "-D/y", "--skip-initialsync", "--exit-on-no-events"}, "--skip-initialsync and --exit-on-no-events"},
		{[]string{"-Mrsyncdirect", "-W/x", "-D/y", "--only-initialsync", "--exit-on-no-events"}, "--only-initialsync and --exit-on-no-events"},
		{[]string{"-Mrsyncdirect", "-W/x", "-D/y", "--skip-initialsync", "--only-initialsync"}, "--skip-initialsync and --only-initialsync"},
		{[]string{"-Mrsyncdirect", "-W/x", "-D/y", "-F", "--skip-initialsync"}, "--full-initialsync and --skip-initialsync"},
		{[]string{"-Mdirect", "-W/x", "--check-execvp-arguments"}, "--check-execvp-arguments and --mode=direct"},
		{[]string{"-Mrsyncdirect", "-W/x", "-D/y", "-p", "safe", "--exit-on-no-events"}, "--threading=safe and --exit-on-no-events"},
		{[]string{"-Mrsyncdirect", "-W/x", "-D/y", "-p", "full", "--max-iterations=2"}, "--max-iterations"},
		{[]string{"-Mrsyncdirect", "-W/x", "-D/y", "--modification-signature=*", "--cancel-syscalls=mon_stat"}, "mon_stat"},
		{[]string{"-Mrsyncdirect", "-W/x", "-D/y", "--have-recursive-sync"}, "--have-recursive-sync"},
		{[]string{"-Mshell", "-Sx", "-W/x", "--synclist-simplify"}, "needs --lists-dir"},
		{[]string{"-Mrsyncdirect", "-W/x", "-D/y", "--socket-own=root"}, "--socket-own is useless"},
		{[]string{"-Mrsyncdirect", "-W/x", "-D/y", "--pivot-root=auto"}, "--pivot-root cannot be used without --chroot"},
		{[]string{"-Msimple", "-Secho", "-W/x", "--standby-file=/s"}, "--standby-file"},
		{[]string{"-Mrsyncdirect", "-W/x", "-D/y", "--monitor=gio"}, "--monitor=gio is not available on this system (it offers "},
		{[]string{"-Mrsyncdirect", "-W/x", "-D/y", "--monitor=fanotify", "--splitting=process"}, "--monitor=fanotify and --splitting=process"},
	} {
		s, _, err := loadSettings(append([]string{"-H", "/NULL/"}, tc.args...), dir)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		err = checkConflicts(s)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.args, err, tc.want)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v is not ErrInvalid", tc.args, err)
		}
	}
	// A custom template that names the destination itself needs no -D
	// (clsync 0.4.5 refuses this documented example with exit 22).
	s := mustLoad(t, "--exit-on-no-events", "--max-iterations=20", "--mode=rsyncdirect", "-W/var/www_new", "-Srsync",
		"--", "%RSYNC-ARGS%", "/var/www_new/", "/var/www/")
	if err := checkConflicts(s); err != nil {
		t.Errorf("the man page's 'atomic sync' example is refused: %v", err)
	}
}

func TestHelpListsEveryOption(t *testing.T) {
	var b strings.Builder
	WriteHelp(&b, "test")
	for _, o := range optionTable {
		if !o.configOnly && !strings.Contains(b.String(), "--"+o.name) {
			t.Errorf("--help does not list --%s", o.name)
		}
	}
}

// Options whose behaviour this version lacks are refused when given, with
// one error naming them; clsync's defaults and the values that ask for
// nothing are accepted.
func TestRefusesWhatItLacks(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	os.Mkdir(src, 0o755)
	os.Mkdir(dst, 0o755)
	base := []string{"-H", "/NULL/", "-Mrsyncdirect", "-W", src, "-D", dst}
	for _, c := range []struct {
		arg     string
		refused string
	}{
		{"--detach-network=everywhere", ""},
		{"--detach-network=off", ""},
		{"--detach-network=non-privileged", ""},
		{"--forbid-devices", ""},
		{"-CCAP_KILL", "--preserve-capabilities"},
		{"--inherit-capabilities=permitted", "--inherit-capabilities"},
		{"--detach-miscellanea", ""},
		{"--detach-ipc=1", ""},
		{"--detach-ipc=0", ""},
		{"--check-execvp-arguments", "--check-execvp-arguments"},
		{"--add-permitted-hook-files=/x", "--add-permitted-hook-files"},
		{"--exit-on-sync-skipping", "--exit-on-sync-skipping"},
		{"--privileged-uid=0", "--privileged-uid"},
		{"--cgroup-group-name=x", "--cgroup-group-name"},
		{"--shm-mprotect", "--shm-mprotect"},
		{"--forget-privthread-info", "--forget-privthread-info"},
		{"--seccomp-filter", "--seccomp-filter"},
		{"--splitting=process", ""},
		{"--secure-splitting", ""},
		{"--permit-mprotect", ""},
		{"-v", ""},
		{"--fts-experimental-optimization", ""},
	} {
		s, err := Load(append(append([]string{}, base...), c.arg), dir)
		if err == nil {
			err = s.Validate()
		}
		switch {
		case c.refused == "" && err != nil:
			t.Errorf("%s: refused: %v", c.arg, err)
		case c.refused != "" && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.refused)):
			t.Errorf("%s: err %v, want an ErrInvalid naming %s", c.arg, err, c.refused)
		}
	}
}

// clsync's "Making two directories synchronous" (two rsyncdirect agents
// with --modification-signature '*') loses files: it is refused, pointing
// to the README. A signature for a handler that changes what it syncs is
// not.
func TestTwoWayRecipeRefused(t *testing.T) {
	for _, c := range []struct {
		args    []string
		refused bool
	}{
		{[]string{"-Mrsyncdirect", "-W/a", "-D/b", "--modification-signature", "*"}, true},
		{[]string{"-Mrsyncshell", "-Sh", "-W/a", "--modification-signature", "uid,ctime"}, true},
		{[]string{"-Mrsyncdirect", "-W/a", "-D/b", "--modification-signature", "dev,ino,mode,uid,gid,rdev,size,atime,mtime"}, false},
		{[]string{"-Mdirect", "-Schown", "-W/a", "--modification-signature", "*", "--", "www-data", "%INCLUDE-LIST%"}, false},
	} {
		err := checkConflicts(mustLoad(t, c.args...))
		if refused := errors.Is(err, ErrInvalid) && strings.Contains(err.Error(), "Two-way sync"); refused != c.refused {
			t.Errorf("%q: %v, refused %v, want %v", c.args, err, refused, c.refused)
		}
	}
}
