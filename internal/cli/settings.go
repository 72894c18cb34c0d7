package cli

import (
	"math"
	"net"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clsync-go/clsync/privsep"
	"github.com/clsync-go/clsync/privsep/caps"

	"github.com/clsync-go/clsync/rules"
)

// settings is the typed result of the command line and the config file.
type Settings struct {
	WatchDir, Destination, Handler, RulesFile, Mode string
	// Template is the handler argument template ("--"); nil means the
	// mode's default. InitTemplate is "---", the initial-sync template.
	Template, InitTemplate []string

	Socket, SocketAuth, SocketOwn, StatusFile, PidFile string
	SocketMod                                          uint32
	SocketModSet                                       bool
	Background                                         bool
	ConfigFile, ConfigBlock, ConfigInherits            string
	CustomSignals                                      map[int]string

	UID, GID, PrivilegedUID, PrivilegedGID, HandlerUID, HandlerGID idValue

	Chroot, PivotRoot, DetachNetwork string
	DetachIPC, DetachMiscellanea     bool
	Splitting                        string
	CheckExecvpArgs, SeccompFilter   bool
	ForgetPrivthreadInfo             bool
	PermitMprotect, ShmMprotect      bool
	PermittedHookFiles, Mountpoints  []string
	Capabilities                     []string
	InheritCapabilities              string
	ForbidDevices                    bool
	Landlock                         bool
	CgroupName                       string

	Threading                    string
	Retries                      int
	IgnoreFailures               bool
	ExitOnSyncSkip               bool
	Output                       string
	OneFileSystem, ExcludeMounts bool
	MaxIterations                int
	StandbyFile                  string
	ModSignature                 []string
	SyncTimeout                  time.Duration
	SyncDelay                    time.Duration
	CollectDelay, BigFileDelay   time.Duration
	BigFileThreshold             int64
	CancelSyscalls               []string
	ListsDir                     string
	HaveRecursiveSync            bool
	SynclistSimplify             bool
	RsyncIncLimit                int
	RsyncPreferInclude           bool
	IgnoreExitCodes              map[int]bool
	DontUnlinkLists              bool
	FullInitialSync              bool
	OnlyInitialSync              bool
	SkipInitialSync              bool
	ExitOnNoEvents               bool
	ExitHook, PreExitHook        string
	SyncOnQuit                   bool
	Verbose, Debug               int
	DumpDir                      string
	Quiet                        bool
	Monitor                      string
	Label                        string

	CheckRules    []string
	CheckRulesSet bool
	Help, Version bool

	// values holds every option's last value as given (after %option%
	// expansion), for %option% in handler templates.
	values map[string]string
	// given holds the options set on the command line or in the config
	// file, with where; the others have their defaults.
	given map[string]source
	// rules is the parsed rules file, once Validate has read it.
	rules *rules.Set

	// caps is -C, resolved by Validate.
	caps caps.Set
	// handlerID is how handlers run, resolved by Validate.
	handlerID privsep.Identity
	// socketUID and socketGID are --socket-own, resolved when parsed.
	socketUID, socketGID int
	// notices are warnings Validate has for the log.
	notices []string
	// LogFormat is --log-format: text or json.
	LogFormat string
	// MetricsListen is --metrics-listen: where Prometheus scrapes.
	MetricsListen string
}

// idValue is a user or group given by name or number; Set tells whether it
// was given at all (0 is root, a valid choice).
type idValue struct {
	ID  int
	Set bool
}

// defaultValues are clsync 0.4.5's defaults (configuration.h), as raw
// strings so that %option% expansion sees them exactly as clsync does.
var defaultValues = map[string]string{
	"label":                 "nolabel",
	"delay-sync":            "30",
	"delay-collect":         "30",
	"delay-collect-bigfile": "1800",
	"threshold-bigfile":     "134217728",
	"rsync-inclimit":        "20000",
	"timeout-sync":          "86400",
	"retries":               "1",
	"config-block":          "default",
	"dump-dir":              "/tmp/clsync-dump-%label%",
	"monitor":               defaultMonitor,
	"output":                "stderr",
	"log-format":            "text",
	"threading":             "off",
	"splitting":             "off",
	"pivot-root":            "off",
	"detach-network":        "non-privileged",
	"detach-ipc":            "1",
	"inherit-capabilities":  "empty",
	"preserve-capabilities": "CAP_DAC_READ_SEARCH,CAP_SETUID,CAP_SETGID,CAP_KILL",
	"cgroup-group-name":     "clsync/%PID%",
}

// setter parses one raw value of an option into settings. Values come in
// command-line order, so repeatable options accumulate and others keep the
// last one.
type setter func(s *Settings, v string) error

var setters = map[string]setter{
	"watch-dir":    func(s *Settings, v string) error { s.WatchDir = v; return nil },
	"sync-handler": func(s *Settings, v string) error { s.Handler = v; return nil },
	"--": func(s *Settings, v string) error {
		t, err := splitTemplate(v)
		s.Template = t
		return err
	},
	"---": func(s *Settings, v string) error {
		t, err := splitTemplate(v)
		s.InitTemplate = t
		return err
	},
	"rules-file":      func(s *Settings, v string) error { s.RulesFile = v; return nil },
	"destination-dir": func(s *Settings, v string) error { s.Destination = v; return nil },
	"mode":            enumSetter(func(s *Settings) *string { return &s.Mode }, "simple", "direct", "shell", "rsyncdirect", "rsyncshell", "plugin", "so", "rsyncso"),
	"socket":          func(s *Settings, v string) error { s.Socket = v; return nil },
	"socket-auth":     enumSetter(func(s *Settings) *string { return &s.SocketAuth }, "null"),
	"socket-mod": func(s *Settings, v string) error {
		m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
		if err != nil || m > 0o7777 {
			return usageErrorf("not an octal file mode: %q", v)
		}
		s.SocketMod, s.SocketModSet = uint32(m), true
		return nil
	},
	"socket-own": func(s *Settings, v string) error {
		s.SocketOwn = v
		var err error
		s.socketUID, s.socketGID, err = resolveOwner(v)
		return err
	},
	"status-file":           func(s *Settings, v string) error { s.StatusFile = v; return nil },
	"background":            flagSetter(func(s *Settings) *bool { return &s.Background }),
	"config-file":           func(s *Settings, v string) error { s.ConfigFile = v; return nil },
	"config-block":          func(s *Settings, v string) error { s.ConfigBlock = v; return nil },
	"config-block-inherits": func(s *Settings, v string) error { s.ConfigInherits = v; return nil },
	"custom-signals":        func(s *Settings, v string) error { return parseCustomSignals(s, v) },
	"pid-file":              func(s *Settings, v string) error { s.PidFile = v; return nil },
	"uid":                   idSetter(func(s *Settings) *idValue { return &s.UID }, lookupUser),
	"gid":                   idSetter(func(s *Settings) *idValue { return &s.GID }, lookupGroup),
	"privileged-uid":        idSetter(func(s *Settings) *idValue { return &s.PrivilegedUID }, lookupUser),
	"privileged-gid":        idSetter(func(s *Settings) *idValue { return &s.PrivilegedGID }, lookupGroup),
	"sync-handler-uid":      idSetter(func(s *Settings) *idValue { return &s.HandlerUID }, lookupUser),
	"sync-handler-gid":      idSetter(func(s *Settings) *idValue { return &s.HandlerGID }, lookupGroup),
	"chroot":                func(s *Settings, v string) error { s.Chroot = v; return nil },
	"pivot-root":            enumSetter(func(s *Settings) *string { return &s.PivotRoot }, "off", "direct", "auto", "auto-ro"),
	"detach-network":        enumSetter(func(s *Settings) *string { return &s.DetachNetwork }, "off", "non-privileged", "everywhere"),
	"detach-ipc":            flagSetter(func(s *Settings) *bool { return &s.DetachIPC }),
	"detach-miscellanea":    flagSetter(func(s *Settings) *bool { return &s.DetachMiscellanea }),
	"secure-splitting": func(s *Settings, v string) error {
		s.Splitting, s.CheckExecvpArgs, s.SeccompFilter, s.ForbidDevices = "process", true, true, true
		return nil
	},
	"splitting":                enumSetter(func(s *Settings) *string { return &s.Splitting }, "off", "thread", "process"),
	"check-execvp-arguments":   flagSetter(func(s *Settings) *bool { return &s.CheckExecvpArgs }),
	"add-permitted-hook-files": listSetter(func(s *Settings) *[]string { return &s.PermittedHookFiles }, nil),
	"seccomp-filter":           flagSetter(func(s *Settings) *bool { return &s.SeccompFilter }),
	"forget-privthread-info":   flagSetter(func(s *Settings) *bool { return &s.ForgetPrivthreadInfo }),
	"permit-mprotect":          flagSetter(func(s *Settings) *bool { return &s.PermitMprotect }),
	"shm-mprotect":             flagSetter(func(s *Settings) *bool { return &s.ShmMprotect }),
	"mountpoints":              listSetter(func(s *Settings) *[]string { return &s.Mountpoints }, nil),
	// -C replaces clsync's default set; the names are checked here.
	"preserve-capabilities": func(s *Settings, v string) error {
		set, err := caps.Parse(strings.Split(v, ","))
		if err != nil {
			return usageErrorf("-C/--preserve-capabilities: %v", err)
		}
		s.Capabilities, s.caps = strings.Split(v, ","), set
		return nil
	},
	// clsync 0.4.5 spells the first mode "permittied"; both spellings work.
	"inherit-capabilities":  enumSetter(func(s *Settings) *string { return &s.InheritCapabilities }, "permitted", "permittied", "dont-touch", "clsync", "empty"),
	"forbid-devices":        flagSetter(func(s *Settings) *bool { return &s.ForbidDevices }),
	"landlock":              flagSetter(func(s *Settings) *bool { return &s.Landlock }),
	"cgroup-group-name":     func(s *Settings, v string) error { s.CgroupName = v; return nil },
	"threading":             enumSetter(func(s *Settings) *string { return &s.Threading }, "off", "safe", "full"),
	"retries":               intSetter(func(s *Settings) *int { return &s.Retries }),
	"ignore-failures":       flagSetter(func(s *Settings) *bool { return &s.IgnoreFailures }),
	"exit-on-sync-skipping": flagSetter(func(s *Settings) *bool { return &s.ExitOnSyncSkip }),
	"output":                enumSetter(func(s *Settings) *string { return &s.Output }, "stderr", "stdout", "syslog"),
	"log-format":            enumSetter(func(s *Settings) *string { return &s.LogFormat }, "text", "json"),
	"metrics-listen": func(s *Settings, v string) error {
		host, port, err := net.SplitHostPort(v)
		if n, perr := strconv.ParseUint(port, 10, 16); err != nil || perr != nil || n == 0 || strings.ContainsAny(host, " /") {
			return usageErrorf("--metrics-listen %q: want HOST:PORT, such as 127.0.0.1:9101 or [::1]:9101", v)
		}
		s.MetricsListen = v
		return nil
	},
	"one-file-system":      flagSetter(func(s *Settings) *bool { return &s.OneFileSystem }),
	"exclude-mount-points": flagSetter(func(s *Settings) *bool { return &s.ExcludeMounts }),
	"max-iterations":       intSetter(func(s *Settings) *int { return &s.MaxIterations }),
	"standby-file":         func(s *Settings, v string) error { s.StandbyFile = v; return nil },
	"modification-signature": listSetter(func(s *Settings) *[]string { return &s.ModSignature },
		[]string{"dev", "ino", "mode", "nlink", "uid", "gid", "rdev", "size", "blksize", "blocks", "atime", "mtime", "ctime", "*"}),
	"timeout-sync":          secondsSetter(func(s *Settings) *time.Duration { return &s.SyncTimeout }),
	"delay-sync":            secondsSetter(func(s *Settings) *time.Duration { return &s.SyncDelay }),
	"delay-collect":         secondsSetter(func(s *Settings) *time.Duration { return &s.CollectDelay }),
	"delay-collect-bigfile": secondsSetter(func(s *Settings) *time.Duration { return &s.BigFileDelay }),
	"threshold-bigfile": func(s *Settings, v string) error {
		n, err := parseNumber(v, math.MaxInt64)
		s.BigFileThreshold = n
		return err
	},
	"cancel-syscalls":               listSetter(func(s *Settings) *[]string { return &s.CancelSyscalls }, []string{"mon_stat"}),
	"lists-dir":                     func(s *Settings, v string) error { s.ListsDir = v; return nil },
	"have-recursive-sync":           flagSetter(func(s *Settings) *bool { return &s.HaveRecursiveSync }),
	"synclist-simplify":             flagSetter(func(s *Settings) *bool { return &s.SynclistSimplify }),
	"rsync-inclimit":                intSetter(func(s *Settings) *int { return &s.RsyncIncLimit }),
	"rsync-prefer-include":          flagSetter(func(s *Settings) *bool { return &s.RsyncPreferInclude }),
	"ignore-exitcode":               func(s *Settings, v string) error { return parseExitCodes(s, v) },
	"dont-unlink-lists":             flagSetter(func(s *Settings) *bool { return &s.DontUnlinkLists }),
	"fts-experimental-optimization": func(s *Settings, v string) error { _, err := parseFlag(v, 0); return err },
	"full-initialsync":              flagSetter(func(s *Settings) *bool { return &s.FullInitialSync }),
	"only-initialsync":              flagSetter(func(s *Settings) *bool { return &s.OnlyInitialSync }),
	"skip-initialsync":              flagSetter(func(s *Settings) *bool { return &s.SkipInitialSync }),
	"exit-on-no-events":             flagSetter(func(s *Settings) *bool { return &s.ExitOnNoEvents }),
	"exit-hook":                     func(s *Settings, v string) error { s.ExitHook = v; return nil },
	"pre-exit-hook":                 func(s *Settings, v string) error { s.PreExitHook = v; return nil },
	"sync-on-quit":                  flagSetter(func(s *Settings) *bool { return &s.SyncOnQuit }),
	"verbose":                       counterSetter(func(s *Settings) *int { return &s.Verbose }),
	"debug":                         counterSetter(func(s *Settings) *int { return &s.Debug }),
	"dump-dir":                      func(s *Settings, v string) error { s.DumpDir = v; return nil },
	"quiet":                         flagSetter(func(s *Settings) *bool { return &s.Quiet }),
	"monitor":                       enumSetter(func(s *Settings) *string { return &s.Monitor }, "inotify", "kqueue", "fanotify", "auto", "gio", "bsm", "bsm_prefetch", "dtracepipe"),
	"label":                         func(s *Settings, v string) error { s.Label = v; return nil },
	"check-rules": func(s *Settings, v string) error {
		s.CheckRulesSet = true
		if v != noValue {
			s.CheckRules = append(s.CheckRules, v)
		}
		return nil
	},
	"help":    func(s *Settings, v string) error { s.Help = true; return nil },
	"version": func(s *Settings, v string) error { s.Version = true; return nil },
}

// parseNumber reads a number the way clsync's xstrtol_trim does (strtol base
// 0: decimal, 0x hex, 0 octal; surrounding whitespace allowed) but refuses
// what clsync silently wraps: negative values and values beyond max.
func parseNumber(v string, max int64) (int64, error) {
	t := strings.Trim(v, " \t\r\n")
	n, err := strconv.ParseInt(t, 0, 64)
	if err != nil || t == "" || strings.Contains(t, "_") {
		return 0, usageErrorf("%q is not a number", v)
	}
	if n < 0 {
		return 0, usageErrorf("%q is negative", v)
	}
	if n > max {
		return 0, usageErrorf("%q is too large (at most %d)", v, max)
	}
	return n, nil
}

func intSetter(field func(*Settings) *int) setter {
	return func(s *Settings, v string) error {
		n, err := parseNumber(v, math.MaxInt32)
		*field(s) = int(n)
		return err
	}
}

// secondsSetter: clsync takes plain seconds, nothing else.
func secondsSetter(field func(*Settings) *time.Duration) setter {
	return func(s *Settings, v string) error {
		n, err := parseNumber(v, math.MaxInt32)
		*field(s) = time.Duration(n) * time.Second
		return err
	}
}

// parseFlag gives an optional-argument flag its new count: given without a
// value it counts up (-d -d), given a number it takes that number (-d3).
func parseFlag(v string, old int) (int, error) {
	if v == noValue {
		return old + 1, nil
	}
	n, err := parseNumber(v, math.MaxInt32)
	return int(n), err
}

func flagSetter(field func(*Settings) *bool) setter {
	return func(s *Settings, v string) error {
		old := 0
		if *field(s) {
			old = 1
		}
		n, err := parseFlag(v, old)
		*field(s) = n != 0
		return err
	}
}

func counterSetter(field func(*Settings) *int) setter {
	return func(s *Settings, v string) error {
		n, err := parseFlag(v, *field(s))
		*field(s) = n
		return err
	}
}

func enumSetter(field func(*Settings) *string, allowed ...string) setter {
	return func(s *Settings, v string) error {
		for _, a := range allowed {
			if v == a {
				*field(s) = v
				return nil
			}
		}
		return usageErrorf("invalid value %q (expected one of: %s)", v, strings.Join(allowed, ", "))
	}
}

// listSetter parses a comma list; an empty element resets what came before
// (clsync's getsubopt loops treat "" as reset). allowed nil accepts anything.
func listSetter(field func(*Settings) *[]string, allowed []string) setter {
	return func(s *Settings, v string) error {
		list := *field(s)
		for _, item := range strings.Split(v, ",") {
			if item == "" {
				list = nil
				continue
			}
			if allowed != nil && !slices.Contains(allowed, item) {
				return usageErrorf("invalid item %q (expected: %s)", item, strings.Join(allowed, ", "))
			}
			list = append(list, item)
		}
		*field(s) = list
		return nil
	}
}

// parseExitCodes: "-x 23 -x 24" and "-x 23,24" add codes; a 0 empties the
// list ("-x 0,23" keeps only 23).
func parseExitCodes(s *Settings, v string) error {
	for _, item := range strings.Split(v, ",") {
		if item == "" {
			return usageErrorf("empty exit code in %q", v)
		}
		for _, c := range item {
			if c < '0' || c > '9' {
				return usageErrorf("exit code %q is not a number from 0 to 255", item)
			}
		}
		n, err := strconv.Atoi(item)
		if err != nil || n > 255 {
			return usageErrorf("exit code %q is not a number from 0 to 255", item)
		}
		if n == 0 {
			s.IgnoreExitCodes = map[int]bool{}
			continue
		}
		if s.IgnoreExitCodes == nil {
			s.IgnoreExitCodes = map[int]bool{}
		}
		s.IgnoreExitCodes[n] = true
	}
	return nil
}

// parseCustomSignals reads "SIG:BLOCK[,SIG:BLOCK...]"; signal 0 resets.
func parseCustomSignals(s *Settings, v string) error {
	for _, item := range strings.Split(v, ",") {
		sigText, block, hasBlock := strings.Cut(item, ":")
		sig, err := strconv.Atoi(strings.TrimSpace(sigText))
		if err != nil || sig < 0 || sig > 64 {
			return usageErrorf("invalid signal number %q in %q", sigText, v)
		}
		if sig == 0 {
			s.CustomSignals = nil
			continue
		}
		if !hasBlock || block == "" {
			return usageErrorf("signal %d has no config block in %q (expected SIG:BLOCK)", sig, v)
		}
		if s.CustomSignals == nil {
			s.CustomSignals = map[int]string{}
		}
		s.CustomSignals[sig] = block
	}
	return nil
}

func idSetter(field func(*Settings) *idValue, lookup func(string) (int, bool)) setter {
	return func(s *Settings, v string) error {
		if id, ok := lookup(v); ok {
			*field(s) = idValue{ID: id, Set: true}
			return nil
		}
		n, err := parseNumber(v, math.MaxUint32-1)
		if err != nil {
			return usageErrorf("no such user or group, and not a number: %q", v)
		}
		*field(s) = idValue{ID: int(n), Set: true}
		return nil
	}
}

func lookupUser(name string) (int, bool) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, false
	}
	id, err := strconv.Atoi(u.Uid)
	return id, err == nil
}

func lookupGroup(name string) (int, bool) {
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, false
	}
	id, err := strconv.Atoi(g.Gid)
	return id, err == nil
}

// resolveOwner is --socket-own USER[:GROUP] by name, as clsync reads it: a
// user alone means the user's primary group.
func resolveOwner(v string) (uid, gid int, err error) {
	name, group, hasGroup := strings.Cut(v, ":")
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, usageErrorf("no such user %q", name)
	}
	gidStr := u.Gid
	if hasGroup {
		g, err := user.LookupGroup(group)
		if err != nil {
			return 0, 0, usageErrorf("no such group %q", group)
		}
		gidStr = g.Gid
	}
	if uid, err = strconv.Atoi(u.Uid); err != nil {
		return 0, 0, usageErrorf("user %q has uid %q", name, u.Uid)
	}
	if gid, err = strconv.Atoi(gidStr); err != nil {
		return 0, 0, usageErrorf("group id %q", gidStr)
	}
	return uid, gid, nil
}

// splitTemplate splits a handler template from the config file into words
// the way clsync's str_splitargs does: blanks separate words, double or
// single quotes group blanks into a word and are removed, a backslash keeps a
// double quote inside double quotes (the backslash itself stays). An empty
// value gives an empty, non-nil template: "use no arguments".
func splitTemplate(v string) ([]string, error) {
	words := []string{}
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch c {
		case ' ', '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case '"', '\'':
			inWord = true
			end := -1
			for j := i + 1; j < len(v); j++ {
				if v[j] != c {
					continue
				}
				backslashes := 0
				for k := j - 1; k > i && v[k] == '\\'; k-- {
					backslashes++
				}
				if c == '\'' || backslashes%2 == 0 {
					end = j
					break
				}
			}
			if end < 0 {
				return nil, usageErrorf("unterminated quote <%c> in %q", c, v)
			}
			cur.WriteString(v[i+1 : end])
			i = end
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
