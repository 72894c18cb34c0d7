package cli

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/clsync-go/clsync/config"
	"github.com/clsync-go/clsync/handlers"
)

// source says where an option's value came from, for error messages.
type source struct {
	name string // "" for the command line
	line int
}

func (s source) String() string {
	if s.name == "" {
		return "command line"
	}
	return fmt.Sprintf("config file %s line %d", s.name, s.line)
}

// assignments is every raw value of every option after merging the command
// line over the config file over the defaults.
type assignments struct {
	vals map[string][]string
	from map[string]source
}

// loadSettings turns argv (without the program name) into settings: the
// command line, then the config file for what the command line left unset,
// then clsync's defaults; %option% references are expanded and every value
// is parsed. Nothing outside the process is touched.
func loadSettings(argv []string, home string) (*Settings, *cmdline, error) {
	cl, err := parseArgv(argv)
	if err != nil {
		return nil, nil, err
	}
	if len(cl.values["help"].vals) > 0 || len(cl.values["version"].vals) > 0 {
		s := &Settings{Help: len(cl.values["help"].vals) > 0, Version: len(cl.values["version"].vals) > 0}
		return s, cl, nil
	}

	a := assignments{vals: map[string][]string{}, from: map[string]source{}}
	for name, v := range cl.values {
		if len(v.vals) > 0 {
			a.vals[name] = v.vals
			a.from[name] = source{}
		}
	}
	if cl.dashdash || len(cl.words) > 0 {
		// The template from the command line is a list of words already.
		a.from["--"] = source{}
	}
	if err := mergeConfig(&a, cl, home); err != nil {
		return nil, nil, err
	}
	for name, v := range defaultValues {
		if _, ok := a.vals[name]; !ok {
			a.vals[name] = []string{v}
		}
	}

	s := &Settings{values: map[string]string{}, given: map[string]source{}}
	for name, from := range a.from {
		s.given[name] = from
	}
	// Defaults first, so that an option that sets others (--secure-splitting
	// sets --splitting) is not undone by their defaults.
	var order []string
	for _, defaults := range []bool{true, false} {
		for i := range optionTable {
			if _, given := a.from[optionTable[i].name]; given != defaults {
				order = append(order, optionTable[i].name)
			}
		}
	}
	for _, name := range order {
		vals, ok := a.vals[name]
		if !ok {
			continue
		}
		for _, v := range vals {
			if name != "--" && name != "---" {
				if v, err = expandOptions(v, a.vals, 0); err != nil {
					return nil, nil, fmt.Errorf("%s: option --%s: %w", a.from[name], name, err)
				}
			}
			if err := setters[name](s, v); err != nil {
				return nil, nil, fmt.Errorf("%s: option --%s: %w", a.from[name], name, err)
			}
			if v != noValue && name != "--" && name != "---" {
				s.values[name] = v
			}
		}
	}
	if _, fromCLI := a.vals["--"]; !fromCLI && (cl.dashdash || len(cl.words) > 0) && !s.CheckRulesSet {
		s.Template = cl.words
		// "clsync ... -- ''" resets the template to nothing, as in clsync.
		if len(cl.words) == 1 && cl.words[0] == "" {
			s.Template = []string{}
		}
	}
	if s.CheckRulesSet {
		s.CheckRules = append(s.CheckRules, cl.words...)
	}
	return s, cl, nil
}

// mergeConfig reads the config file (-H, or clsync's search order) and adds
// the values of the chosen block (-K) for options the command line did not
// set. A key clsync does not know is an error: a typo must never be ignored.
func mergeConfig(a *assignments, cl *cmdline, home string) error {
	path := last(cl.values["config-file"].vals)
	if path == config.NoConfig {
		return nil
	}
	explicit := path != ""
	if !explicit {
		found, err := config.Find(config.SearchPaths(home))
		if err != nil {
			return err
		}
		if found == "" {
			return nil
		}
		path = found
	}
	kf, err := config.Load(path)
	if err != nil {
		return asInvalid(err)
	}
	block := last(cl.values["config-block"].vals)
	blockExplicit := block != ""
	if !blockExplicit {
		block = "default"
	}
	if !kf.HasGroup(block) {
		if blockExplicit {
			return usageErrorf("config file %s: no block [%s] (from --config-block)", path, block)
		}
		return nil
	}
	var entries []config.Entry
	if parent := cl.values["config-block-inherits"].vals; len(parent) > 0 {
		entries, err = kf.BlockInheriting(block, last(parent))
	} else {
		entries, err = kf.Block(block)
	}
	if err != nil {
		return asInvalid(err)
	}
	for _, e := range entries {
		spec, ok := lookupOption(e.Key)
		if !ok {
			return usageErrorf("config file %s line %d: unknown key %q in block [%s]", path, e.Line, e.Key, e.Group)
		}
		if spec.cliOnly {
			return usageErrorf("config file %s line %d: key %q is a command-line option, not a config key", path, e.Line, e.Key)
		}
		if _, fromCLI := a.from[e.Key]; fromCLI {
			continue
		}
		a.vals[e.Key] = []string{e.Value}
		a.from[e.Key] = source{name: path, line: e.Line}
	}
	return nil
}

func last(vals []string) string {
	if len(vals) == 0 {
		return ""
	}
	return vals[len(vals)-1]
}

// maxExpandDepth stops %a% -> %b% -> %a% loops.
const maxExpandDepth = 16

var errExpandLoop = errors.New("%option% references loop")

// expandOptions replaces %name% by the value of option name, %PID% by our
// pid and %% by %, like clsync's parameter_expand. Names that are not set
// options, such as the handler's %INCLUDE-LIST%, are kept for later.
func expandOptions(v string, vals map[string][]string, depth int) (string, error) {
	if depth > maxExpandDepth {
		return "", errExpandLoop
	}
	var err error
	out := handlers.ExpandVars(v, func(name string) (string, bool) {
		if name == "PID" {
			return strconv.Itoa(os.Getpid()), true
		}
		val, ok := vals[name]
		if !ok || name == "--" || name == "---" || len(val) == 0 || err != nil {
			return "", false
		}
		var e string
		e, err = expandOptions(last(val), vals, depth+1)
		return e, err == nil
	})
	return out, err
}
