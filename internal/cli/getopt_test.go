package cli

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseArgv(t *testing.T) {
	tests := []struct {
		name  string
		argv  []string
		want  map[string][]string // option -> raw values
		words []string
		err   string
	}{
		{name: "long with =", argv: []string{"--watch-dir=/src"}, want: map[string][]string{"watch-dir": {"/src"}}},
		{name: "long separate word", argv: []string{"--watch-dir", "/src"}, want: map[string][]string{"watch-dir": {"/src"}}},
		{name: "abbreviation", argv: []string{"--watch", "/src"}, want: map[string][]string{"watch-dir": {"/src"}}},
		{name: "abbreviation with =", argv: []string{"--dest=/d"}, want: map[string][]string{"destination-dir": {"/d"}}},
		{name: "exact beats prefix", argv: []string{"--sync-handler", "rsync"}, want: map[string][]string{"sync-handler": {"rsync"}}},
		{name: "exit-on-sync-skip from the man page", argv: []string{"--exit-on-sync-skip"}, want: map[string][]string{"exit-on-sync-skipping": {noValue}}},
		{name: "ambiguous", argv: []string{"--mod=x"}, err: "option '--mod=x' is ambiguous; possibilities: '--mode' '--modification-signature'"},
		{name: "ambiguous delay", argv: []string{"--delay=1"}, err: "is ambiguous"},
		{name: "unknown long", argv: []string{"--frobnicate"}, err: "unrecognized option '--frobnicate'"},
		{name: "unknown short", argv: []string{"-j"}, err: "invalid option -- 'j'"},
		{name: "missing long argument", argv: []string{"--mode"}, err: "option '--mode' requires an argument"},
		{name: "missing short argument", argv: []string{"-M"}, err: "option requires an argument -- 'M'"},
		{name: "no-argument option with value", argv: []string{"--secure-splitting=1"}, err: "doesn't allow an argument"},
		{name: "attached short value", argv: []string{"-Mrsyncdirect", "-W/src"}, want: map[string][]string{"mode": {"rsyncdirect"}, "watch-dir": {"/src"}}},
		{name: "separate short value", argv: []string{"-M", "rsyncdirect"}, want: map[string][]string{"mode": {"rsyncdirect"}}},
		{name: "repeated flag", argv: []string{"-d", "-d"}, want: map[string][]string{"debug": {noValue, noValue}}},
		// getopt gives an optional-argument option the rest of its cluster.
		{name: "flag cluster", argv: []string{"-dd"}, want: map[string][]string{"debug": {"d"}}},
		{name: "optional attached", argv: []string{"-d3"}, want: map[string][]string{"debug": {"3"}}},
		{name: "optional long", argv: []string{"--debug=3"}, want: map[string][]string{"debug": {"3"}}},
		{name: "optional is never the next word", argv: []string{"-d", "3"}, want: map[string][]string{"debug": {noValue}}, words: []string{"3"}},
		{name: "cluster then value", argv: []string{"-UMrsyncdirect"}, want: map[string][]string{"dont-unlink-lists": {"Mrsyncdirect"}}},
		{name: "repeatable", argv: []string{"-x", "23", "-x", "24", "--ignore-exitcode=25,26"}, want: map[string][]string{"ignore-exitcode": {"23", "24", "25,26"}}},
		{name: "dashdash", argv: []string{"-Mdirect", "--", "-a", "--b", "%INCLUDE-LIST%"}, want: map[string][]string{"mode": {"direct"}}, words: []string{"-a", "--b", "%INCLUDE-LIST%"}},
		{name: "permutation", argv: []string{"word", "-Mdirect", "other"}, want: map[string][]string{"mode": {"direct"}}, words: []string{"word", "other"}},
		{name: "lone dash is a word", argv: []string{"-"}, words: []string{"-"}},
		{name: "value starting with dash", argv: []string{"-W", "-weird"}, want: map[string][]string{"watch-dir": {"-weird"}}},
		{name: "config-only keys are not options", argv: []string{"---=x"}, err: "unrecognized option '---=x'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl, err := parseArgv(tt.argv)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for name, v := range cl.values {
				if len(v.vals) > 0 {
					got[name] = v.vals
				}
			}
			if tt.want == nil {
				tt.want = map[string][]string{}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("values = %q, want %q", got, tt.want)
			}
			if !reflect.DeepEqual(cl.words, tt.words) {
				t.Errorf("words = %q, want %q", cl.words, tt.words)
			}
		})
	}
}
