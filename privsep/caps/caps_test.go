package caps

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		names []string
		want  Set
		err   string
	}{
		{names: nil, want: 0},
		{names: []string{}, want: 0},
		{names: []string{""}, want: 0},
		{names: []string{"CAP_DAC_READ_SEARCH", "CAP_SETUID", "CAP_SETGID", "CAP_KILL"}, want: Default},
		{names: []string{"dac_read_search", "setuid", "Cap_SetGid", " kill "}, want: Default},
		{names: []string{"CAP_CHOWN", "CAP_CHOWN"}, want: 1},
		{names: []string{"checkpoint_restore"}, want: 1 << 40},
		{names: []string{"CAP_SETUID", "CAP_FOO"}, err: `unknown capability "CAP_FOO" (see capabilities(7))`},
		{names: []string{"cap_"}, err: `unknown capability "cap_"`},
		{names: []string{"7"}, err: `unknown capability "7"`},
	} {
		got, err := Parse(tc.names)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse(%q) = %v, %v; want error %q", tc.names, got, err, tc.err)
			}
		case err != nil || got != tc.want:
			t.Errorf("Parse(%q) = %#x, %v; want %#x", tc.names, uint64(got), err, uint64(tc.want))
		}
	}
}

func TestString(t *testing.T) {
	for _, tc := range []struct {
		s    Set
		want string
	}{
		{0, "none"},
		{Default, "CAP_DAC_READ_SEARCH,CAP_KILL,CAP_SETGID,CAP_SETUID"},
		{1<<CAP_CHOWN | 1<<CAP_CHECKPOINT_RESTORE | 1<<63, "CAP_CHOWN,CAP_CHECKPOINT_RESTORE,63"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("Set(%#x).String() = %q, want %q", uint64(tc.s), got, tc.want)
		}
	}
	// Every name parses back to its own number.
	for n, name := range capNames {
		if s, err := Parse([]string{name}); err != nil || s != 1<<n || s.String() != name {
			t.Errorf("%d %s: Parse = %v, %v", n, name, s, err)
		}
	}
}

func TestHas(t *testing.T) {
	if uint64(Default) != 0xe4 {
		t.Errorf("Default = %#x, want 0xe4 (clsync 0.4.5)", uint64(Default))
	}
	for c, want := range map[int]bool{-1: false, CAP_CHOWN: false, CAP_KILL: true, CAP_SETUID: true, 64: false} {
		if Default.Has(c) != want {
			t.Errorf("Default.Has(%d) = %v", c, !want)
		}
	}
}
