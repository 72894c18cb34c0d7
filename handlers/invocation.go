package handlers

import (
	"fmt"
	"strconv"
	"strings"
)

// Invocation is one handler run: which of the configuration's templates,
// and the values only that run knows. The program, the template's fixed
// words and the configuration's own variables (%label%, %watch-dir%,
// %destination-dir%, options, rsync's arguments) come from the Config, so
// a process that can only send an Invocation (privsep's worker) cannot
// choose what runs or with which fixed arguments.
type Invocation struct {
	// Template is "sync", "initial" (the initial-sync template, "---"),
	// "exit-hook" or "pre-exit-hook".
	Template string `json:"template"`
	// Type is %TYPE%: sync, synclist or initialsync.
	Type string `json:"type,omitempty"`
	// IncludeList is %INCLUDE-LIST%: paths, one argument each.
	IncludeList     []string `json:"include_list,omitempty"`
	IncludeListPath string   `json:"include_list_path,omitempty"`
	ExcludeListPath string   `json:"exclude_list_path,omitempty"`
	// FilesFromPath is rsyncdirect's --files-from list (NUL-separated
	// names), for the run shapes other than clsync's lists.
	FilesFromPath string `json:"files_from_path,omitempty"`
	// Shape is how rsyncdirect's run names what it syncs (see planNamed):
	// "" (include and exclude lists), "dirs", "trees" or "files".
	Shape     string `json:"shape,omitempty"`
	EventMask string `json:"event_mask,omitempty"`
	// Quick and Initial choose rsync's own arguments (%RSYNC-ARGS%).
	Quick   bool `json:"quick,omitempty"`
	Initial bool `json:"initial,omitempty"`
}

// Argv builds the argv of inv from cfg: the same function in the process
// that decides a sync and in the one that starts it.
func Argv(cfg Config, inv Invocation) ([]string, error) {
	switch inv.Template {
	case "exit-hook", "pre-exit-hook":
		hook := cfg.ExitHook
		if inv.Template == "pre-exit-hook" {
			hook = cfg.PreExitHook
		}
		if hook == "" {
			return nil, fmt.Errorf("no %s is configured", inv.Template)
		}
		return []string{hook, cfg.Label}, nil
	case "sync", "initial":
	default:
		return nil, fmt.Errorf("unknown handler template %q", inv.Template)
	}
	sync, initial := Templates(cfg)
	template := sync
	if inv.Template == "initial" {
		template = initial
	}
	return append([]string{cfg.Program}, ExpandTemplate(template, invocationVars(cfg, inv))...), nil
}

// Templates resolves the mode's templates: -- (or the mode's default) for
// syncs, --- (or the sync template, or the mode's default) for initial
// syncs.
func Templates(cfg Config) (sync, initial []string) {
	var syncDefault, initDefault []string
	switch cfg.Mode {
	case "simple":
		syncDefault = []string{"sync", "%label%", "%EVENT-MASK%", "%INCLUDE-LIST%"}
		initDefault = syncDefault
	case "shell":
		syncDefault = []string{"synclist", "%label%", "%INCLUDE-LIST-PATH%"}
		initDefault = []string{"initialsync", "%label%", "%INCLUDE-LIST%"}
	case "direct":
		syncDefault = []string{"%INCLUDE-LIST%", "%destination-dir%/"}
		initDefault = syncDefault
	case "rsyncdirect":
		syncDefault = []string{"%RSYNC-ARGS%", "%watch-dir%/", "%destination-dir%/"}
	case "rsyncshell":
		syncDefault = []string{"rsynclist", "%label%", "%INCLUDE-LIST-PATH%"}
		if !cfg.PreferInclude {
			syncDefault = append(syncDefault, "%EXCLUDE-LIST-PATH%")
		}
	}
	sync = cfg.Template
	if sync == nil {
		sync = syncDefault
	}
	initial = cfg.InitTemplate
	if rsyncMode(cfg.Mode) {
		// The rsync modes' initial sync is a sync of the whole tree:
		// without ---, the sync template.
		if initial == nil {
			initial = sync
		}
		return sync, initial
	}
	if initial == nil {
		initial = cfg.Template
	}
	if initial == nil {
		initial = initDefault
	}
	return sync, initial
}

func rsyncMode(mode string) bool { return mode == "rsyncdirect" || mode == "rsyncshell" }

// invocationVars resolves a template's variables for inv.
func invocationVars(cfg Config, inv Invocation) Vars {
	return func(name string) ([]string, bool) {
		switch name {
		case "INCLUDE-LIST-PATH":
			return []string{inv.IncludeListPath}, true
		case "EXCLUDE-LIST-PATH":
			return []string{inv.ExcludeListPath}, true
		}
		if rsyncMode(cfg.Mode) {
			switch name {
			case "RSYNC-ARGS":
				local := cfg.Destination != "" && !IsRemote(cfg.Destination)
				return ExpandTemplate(rsyncArgs(cfg.PreferInclude, inv.Quick, inv.Initial, local, inv.Shape), func(n string) ([]string, bool) {
					switch n {
					case "INCLUDE-LIST-PATH":
						return []string{inv.IncludeListPath}, true
					case "EXCLUDE-LIST-PATH":
						return []string{inv.ExcludeListPath}, true
					case "FILES-FROM-PATH":
						return []string{inv.FilesFromPath}, true
					}
					return nil, false
				}), true
			case "TYPE":
				// clsync's list type in the rsync modes.
				if cfg.Mode == "rsyncshell" {
					return []string{"rsynclist"}, true
				}
			}
			return optionVars(cfg, name)
		}
		switch name {
		case "TYPE":
			return []string{inv.Type}, true
		case "INCLUDE-LIST":
			return inv.IncludeList, true
		case "EVENT-MASK":
			return []string{inv.EventMask}, true
		}
		return optionVars(cfg, name)
	}
}

// Exit is how a handler process ended.
type Exit struct {
	Code   int // the exit code; -1 when a signal ended it
	Signal int // the signal that ended it, 0 when it exited
}

func (e Exit) String() string {
	if e.Code >= 0 {
		return "exit status " + strconv.Itoa(e.Code)
	}
	return "signal: " + strings.ToLower(sigName(e.Signal))
}

// sigName names the common signals the way the shell does.
func sigName(sig int) string {
	names := map[int]string{1: "hangup", 2: "interrupt", 3: "quit", 6: "aborted", 9: "killed", 13: "broken pipe", 15: "terminated"}
	if n, ok := names[sig]; ok {
		return n
	}
	return "signal " + strconv.Itoa(sig)
}
