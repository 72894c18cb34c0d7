package cli

import (
	"errors"
	"strings"
	"testing"
)

// optionSamples holds, for every option of the table, a value clsync
// accepts and, where one exists, a value it rejects. "" as good value means
// the option takes no argument (or is tested given without one).
var optionSamples = map[string]struct{ good, bad string }{
	"watch-dir":                     {"/src", ""},
	"sync-handler":                  {"/usr/bin/rsync", ""},
	"rules-file":                    {"/etc/rules", ""},
	"destination-dir":               {"/dst", ""},
	"mode":                          {"rsyncdirect", "rsync"},
	"socket":                        {"/run/clsync.sock", ""},
	"socket-auth":                   {"null", "pam"},
	"socket-mod":                    {"600", "rw"},
	"socket-own":                    {"root:root", "no-such-user-x:root"},
	"status-file":                   {"/run/status", ""},
	"background":                    {"1", "yes"},
	"config-file":                   {"/NULL/", ""},
	"config-block":                  {"default", ""},
	"config-block-inherits":         {"parent", ""},
	"custom-signals":                {"29:debug,28:normal", "x:debug"},
	"pid-file":                      {"/run/clsync.pid", ""},
	"uid":                           {"nobody", "no-such-user-x"},
	"gid":                           {"0", "no-such-group-x"},
	"privileged-uid":                {"0", "-1"},
	"privileged-gid":                {"0", "-1"},
	"sync-handler-uid":              {"65534", "no-such-user-x"},
	"sync-handler-gid":              {"65534", "no-such-group-x"},
	"chroot":                        {"/var/empty", ""},
	"pivot-root":                    {"auto-ro", "sideways"},
	"detach-network":                {"everywhere", "nowhere"},
	"detach-ipc":                    {"0", "maybe"},
	"detach-miscellanea":            {"1", "x"},
	"secure-splitting":              {"", ""},
	"splitting":                     {"process", "fork"},
	"check-execvp-arguments":        {"1", "x"},
	"add-permitted-hook-files":      {"/a,/b", ""},
	"seccomp-filter":                {"1", "x"},
	"forget-privthread-info":        {"1", "x"},
	"permit-mprotect":               {"0", "x"},
	"shm-mprotect":                  {"1", "x"},
	"mountpoints":                   {"/,/proc", ""},
	"preserve-capabilities":         {"CAP_DAC_READ_SEARCH,CAP_KILL", "CAP_FOO"},
	"inherit-capabilities":          {"dont-touch", "all"},
	"forbid-devices":                {"1", "x"},
	"landlock":                      {"1", "x"},
	"log-format":                    {"json", "xml"},
	"metrics-listen":                {"127.0.0.1:9101", "localhost"},
	"cgroup-group-name":             {"clsync/x", ""},
	"threading":                     {"safe", "half"},
	"retries":                       {"3", "three"},
	"ignore-failures":               {"1", "x"},
	"exit-on-sync-skipping":         {"1", "x"},
	"output":                        {"syslog", "file"},
	"one-file-system":               {"1", "x"},
	"exclude-mount-points":          {"1", "x"},
	"max-iterations":                {"20", "-2"},
	"standby-file":                  {"/run/standby", ""},
	"modification-signature":        {"*", "colour"},
	"timeout-sync":                  {"0", "1d"},
	"delay-sync":                    {"5", "5s"},
	"delay-collect":                 {"5", "5.5"},
	"delay-collect-bigfile":         {"0x10", "x10"},
	"threshold-bigfile":             {"0", "1G"},
	"cancel-syscalls":               {"mon_stat", "stat"},
	"lists-dir":                     {"/tmp/lists", ""},
	"have-recursive-sync":           {"1", "x"},
	"synclist-simplify":             {"1", "x"},
	"rsync-inclimit":                {"100", "many"},
	"rsync-prefer-include":          {"1", "x"},
	"ignore-exitcode":               {"23,24", "23;24"},
	"dont-unlink-lists":             {"1", "x"},
	"fts-experimental-optimization": {"1", "x"},
	"full-initialsync":              {"1", "x"},
	"only-initialsync":              {"1", "x"},
	"skip-initialsync":              {"1", "x"},
	"exit-on-no-events":             {"1", "x"},
	"exit-hook":                     {"/bin/true", ""},
	"pre-exit-hook":                 {"/bin/true", ""},
	"sync-on-quit":                  {"1", "x"},
	"verbose":                       {"2", "x"},
	"debug":                         {"3", "x"},
	"dump-dir":                      {"/tmp/dump", ""},
	"quiet":                         {"1", "x"},
	"monitor":                       {defaultMonitor, "fsevents"},
	"label":                         {"web", ""},
	"check-rules":                   {"a/b", ""},
	"help":                          {"", ""},
	"version":                       {"", ""},
}

// TestEveryOption gives every option of the table a good value (long form,
// short form, shortest unique abbreviation) and a bad one, and checks that
// the table, the setters and the samples cover the same options.
func TestEveryOption(t *testing.T) {
	for _, o := range optionTable {
		if _, ok := setters[o.name]; !ok {
			t.Errorf("--%s has no setter", o.name)
		}
		if o.configOnly {
			continue
		}
		sample, ok := optionSamples[o.name]
		if !ok {
			t.Errorf("--%s has no sample values in this test", o.name)
			continue
		}
		forms := [][]string{}
		long := "--" + o.name
		if sample.good != "" {
			long += "=" + sample.good
		}
		forms = append(forms, []string{long})
		if abbr := shortestPrefix(o.name); abbr != o.name {
			a := "--" + abbr
			if sample.good != "" {
				a += "=" + sample.good
			}
			forms = append(forms, []string{a})
		}
		if o.short != 0 {
			short := "-" + string(o.short)
			switch {
			case sample.good == "":
				forms = append(forms, []string{short})
			case o.arg == argRequired:
				forms = append(forms, []string{short, sample.good}, []string{short + sample.good})
			default:
				forms = append(forms, []string{short + sample.good})
			}
		}
		for _, args := range forms {
			cl, err := parseArgv(args)
			if err != nil {
				t.Errorf("%q: %v", args, err)
				continue
			}
			if got := cl.values[o.name].vals; len(got) != 1 {
				t.Errorf("%q: --%s got %q", args, o.name, got)
			}
			if o.name == "config-file" || o.name == "help" || o.name == "version" {
				continue
			}
			if _, _, err := loadSettings(append([]string{"-H", "/NULL/"}, args...), t.TempDir()); err != nil {
				t.Errorf("%q: rejected: %v", args, err)
			}
		}
		if sample.bad != "" {
			args := []string{"-H", "/NULL/", "--" + o.name + "=" + sample.bad}
			_, _, err := loadSettings(args, t.TempDir())
			if err == nil {
				t.Errorf("%q accepted", args)
			} else if !strings.Contains(err.Error(), "--"+o.name) || !errors.Is(err, ErrInvalid) {
				t.Errorf("%q: error %q does not name the option or is not ErrInvalid", args, err)
			}
		}
	}
	for name := range optionSamples {
		if _, ok := lookupOption(name); !ok {
			t.Errorf("sample for unknown option --%s", name)
		}
	}
}

// shortestPrefix is the shortest abbreviation getopt_long resolves to name.
func shortestPrefix(name string) string {
	for n := 1; n <= len(name); n++ {
		p := name[:n]
		matches := 0
		for _, o := range optionTable {
			if !o.configOnly && strings.HasPrefix(o.name, p) {
				matches++
			}
		}
		if matches == 1 {
			return p
		}
	}
	return name
}
