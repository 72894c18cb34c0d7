package cli

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// canonicalArgv renders a parsed command line in its canonical form:
// "--name" or "--name=value" per assignment, then "--" and the words if
// there were any or a "--".
func canonicalArgv(cl *cmdline) []string {
	var argv []string
	for i := range optionTable {
		v, ok := cl.values[optionTable[i].name]
		if !ok {
			continue
		}
		for _, val := range v.vals {
			if val == noValue {
				argv = append(argv, "--"+optionTable[i].name)
			} else {
				argv = append(argv, "--"+optionTable[i].name+"="+val)
			}
		}
	}
	if !cl.dashdash && len(cl.words) == 0 {
		return argv
	}
	return append(append(argv, "--"), cl.words...)
}

func valuesOf(cl *cmdline) map[string][]string {
	m := map[string][]string{}
	for name, v := range cl.values {
		if len(v.vals) > 0 {
			m[name] = v.vals
		}
	}
	return m
}

// FuzzCommandLine: argv is the input split at NUL bytes. Parsing never
// panics; whatever is accepted re-parses, in canonical form, to the same
// options and words, and the settings built from both agree.
func FuzzCommandLine(f *testing.F) {
	for _, seed := range []string{
		"-Mrsyncdirect\x00-W/src\x00-D\x00/dst",
		"--watch=/x\x00--mod\x00-d\x00-d3\x00--\x00-a",
		"-x\x0023\x00-x\x0024,25\x00--ignore-exitcode=0",
		"-bq\x00--help",
		"--check-rules\x00a\x00b",
		"-w\x000x10\x00-t\x00010\x00--label=%watch-dir%",
		"---\x00--=x\x00-",
	} {
		f.Add(seed)
	}
	home := f.TempDir()
	f.Fuzz(func(t *testing.T, input string) {
		argv := strings.Split(input, "\x00")
		cl, err := parseArgv(argv)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("argv %q: parse error %v is not ErrInvalid", argv, err)
			}
			return
		}
		again, err := parseArgv(canonicalArgv(cl))
		if err != nil {
			t.Fatalf("argv %q accepted, canonical form %q rejected: %v", argv, canonicalArgv(cl), err)
		}
		if !reflect.DeepEqual(valuesOf(cl), valuesOf(again)) {
			t.Fatalf("argv %q: values %q, after re-parse %q", argv, valuesOf(cl), valuesOf(again))
		}
		if len(cl.words) != len(again.words) || (len(cl.words) > 0 && !reflect.DeepEqual(cl.words, again.words)) {
			t.Fatalf("argv %q: words %q, after re-parse %q", argv, cl.words, again.words)
		}
		full := append([]string{"-H", "/NULL/"}, argv...)
		s1, _, err1 := loadSettings(full, home)
		s2, _, err2 := loadSettings(append([]string{"-H", "/NULL/"}, canonicalArgv(cl)...), home)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("argv %q: settings error %v, canonical form error %v", argv, err1, err2)
		}
		if err1 == nil && !reflect.DeepEqual(s1, s2) {
			t.Fatalf("argv %q: settings differ after re-parse", argv)
		}
		if err1 != nil && strings.Contains(err1.Error(), "\n") && !strings.Contains(input, "\n") {
			t.Fatalf("argv %q: error is not one line: %q", argv, err1)
		}
	})
}
