package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// noValue marks an optional-argument option given without a value. A NUL
// byte cannot appear in argv, so no user value collides with it.
const noValue = "\x00"

// cmdline is argv split the way getopt_long(3) splits it: options in order,
// then the words that are not options (GNU getopt moves them behind the
// options) followed by everything after "--".
type cmdline struct {
	flags *pflag.FlagSet
	// values holds every assignment per option, in command-line order.
	values map[string]*rawValue
	// words are the non-option arguments: the handler argument template,
	// or the paths for --check-rules.
	words []string
	// dashdash tells whether "--" was given, so that "clsync ... -- ''"
	// (an explicitly empty template) can be told from no template.
	dashdash bool
}

// rawValue collects the raw strings given to one option; typed parsing and
// validation happen later, once the config file has been merged in.
type rawValue struct {
	vals []string
}

func (r *rawValue) String() string {
	if len(r.vals) == 0 {
		return ""
	}
	return r.vals[len(r.vals)-1]
}
func (r *rawValue) Set(s string) error { r.vals = append(r.vals, s); return nil }
func (r *rawValue) Type() string       { return "string" }

// parseArgv applies getopt_long's rules: unique-prefix abbreviations of long
// options, "--opt=VALUE" or "--opt VALUE" for required arguments, only
// "--opt=VALUE" for optional ones, short option clusters with attached values
// ("-Mrsyncdirect", "-d3", "-bq"), permutation of non-option words and "--"
// ending the options. The options then go through a pflag.FlagSet in their
// canonical "--name=value" form.
func parseArgv(argv []string) (*cmdline, error) {
	var tokens []string
	cl := &cmdline{values: map[string]*rawValue{}}
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "--":
			cl.dashdash = true
			cl.words = append(cl.words, argv[i+1:]...)
			i = len(argv)
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			spec, err := matchLong(name, a)
			if err != nil {
				return nil, err
			}
			switch spec.arg {
			case argNone:
				if hasVal {
					return nil, usageErrorf("option '--%s' doesn't allow an argument", spec.name)
				}
				tokens = append(tokens, "--"+spec.name)
			case argOptional:
				if !hasVal {
					val = noValue
				}
				tokens = append(tokens, "--"+spec.name+"="+val)
			case argRequired:
				if !hasVal {
					if i+1 >= len(argv) {
						return nil, usageErrorf("option '--%s' requires an argument", spec.name)
					}
					i++
					val = argv[i]
				}
				tokens = append(tokens, "--"+spec.name+"="+val)
			}
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				spec, ok := matchShort(a[j])
				if !ok {
					return nil, usageErrorf("invalid option -- '%s'", printableByte(a[j]))
				}
				rest := a[j+1:]
				if spec.arg == argNone {
					tokens = append(tokens, "--"+spec.name)
					continue
				}
				val := rest
				if rest == "" {
					if spec.arg == argOptional {
						val = noValue
					} else {
						if i+1 >= len(argv) {
							return nil, usageErrorf("option requires an argument -- '%c'", a[j])
						}
						i++
						val = argv[i]
					}
				}
				tokens = append(tokens, "--"+spec.name+"="+val)
				break
			}
		default:
			cl.words = append(cl.words, a)
		}
	}

	cl.flags = pflag.NewFlagSet("clsync", pflag.ContinueOnError)
	cl.flags.SortFlags = false
	for i := range optionTable {
		spec := &optionTable[i]
		if spec.configOnly {
			continue
		}
		v := &rawValue{}
		cl.values[spec.name] = v
		f := cl.flags.VarPF(v, spec.name, "", spec.help)
		if spec.arg != argRequired {
			f.NoOptDefVal = noValue
		}
	}
	if err := cl.flags.Parse(tokens); err != nil {
		// Every token was built from the table above, so pflag cannot
		// disagree with it; if it does, that is our bug, not the user's.
		return nil, fmt.Errorf("internal option parsing error: %w", err)
	}
	return cl, nil
}

// matchLong resolves a possibly abbreviated long option name: an exact match
// wins, otherwise the prefix must be unique. Messages quote the whole
// argument, as glibc's getopt_long does.
func matchLong(name, arg string) (*optionSpec, error) {
	var matches []*optionSpec
	for i := range optionTable {
		spec := &optionTable[i]
		if spec.configOnly {
			continue
		}
		if spec.name == name {
			return spec, nil
		}
		if name != "" && strings.HasPrefix(spec.name, name) {
			matches = append(matches, spec)
		}
	}
	switch len(matches) {
	case 0:
		return nil, usageErrorf("unrecognized option '%s'", arg)
	case 1:
		return matches[0], nil
	}
	names := make([]string, len(matches))
	for i, m := range matches {
		names[i] = "'--" + m.name + "'"
	}
	sort.Strings(names)
	return nil, usageErrorf("option '%s' is ambiguous; possibilities: %s", arg, strings.Join(names, " "))
}

func matchShort(c byte) (*optionSpec, bool) {
	if c == 0 {
		return nil, false
	}
	for i := range optionTable {
		if optionTable[i].short == c && !optionTable[i].configOnly {
			return &optionTable[i], true
		}
	}
	return nil, false
}

func printableByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return string(c)
	}
	return fmt.Sprintf("\\x%02x", c)
}
