package config

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGLibAgrees parses the table cases and thousands of generated files
// with both Parse and GLib's key-file parser, as clsync uses it (see
// testdata/glibdump.c), and checks that they accept the same files with the
// same content. It needs a C compiler and GLib's headers (Debian:
// libglib2.0-dev) and is skipped without them.
func TestGLibAgrees(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a C program")
	}
	bin := buildGLibDump(t)

	var inputs []string
	for _, tc := range parseCases {
		if !tc.deviation {
			inputs = append(inputs, tc.in)
		}
	}
	inputs = append(inputs, generated(5000)...)

	dir := t.TempDir()
	var list strings.Builder
	for i, in := range inputs {
		p := filepath.Join(dir, fmt.Sprint(i))
		if err := os.WriteFile(p, []byte(in), 0o644); err != nil {
			t.Fatal(err)
		}
		list.WriteString(p + "\n")
	}
	cmd := exec.Command(bin)
	cmd.Stdin = strings.NewReader(list.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	results := strings.SplitAfter(string(out), ".\n")
	if len(results) != len(inputs)+1 {
		t.Fatalf("%d results from GLib for %d files", len(results)-1, len(inputs))
	}

	failed, accepted := 0, 0
	for i, in := range inputs {
		want := results[i]
		got := "E\n.\n"
		if k, err := Parse([]byte(in), "t.conf"); err == nil {
			got = glibStyle(k)
			accepted++
		}
		if got != want {
			t.Errorf("file %q:\nParse: %s\nGLib:  %s", in, decode(got), decode(want))
			if failed++; failed == 10 {
				t.Fatal("too many differences")
			}
		}
	}
	t.Logf("%d files, %d accepted", len(inputs), accepted)
	// Both outcomes must be well covered for the comparison to mean much.
	if accepted < len(inputs)/5 || accepted > len(inputs)*4/5 {
		t.Errorf("only %d of %d files accepted: change the generator", accepted, len(inputs))
	}
}

// buildGLibDump compiles testdata/glibdump.c, or skips the test.
func buildGLibDump(t *testing.T) string {
	t.Helper()
	flags, err := exec.Command("pkg-config", "--cflags", "--libs", "glib-2.0").Output()
	if err != nil {
		t.Skipf("no GLib to compare with (pkg-config glib-2.0: %v)", err)
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	if _, err := exec.LookPath(cc); err != nil {
		t.Skipf("no C compiler: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "glibdump")
	args := append([]string{"-o", bin, filepath.Join("testdata", "glibdump.c")}, strings.Fields(string(flags))...)
	if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("building glibdump: %v\n%s", err, out)
	}
	return bin
}

// glibStyle writes k as glibdump does.
func glibStyle(k *KeyFile) string {
	var b strings.Builder
	for _, g := range k.groups {
		fmt.Fprintf(&b, "G%x\n", g.name)
		for _, e := range g.entries {
			fmt.Fprintf(&b, "K%x %x\n", e.Key, e.Value)
		}
	}
	b.WriteString(".\n")
	return b.String()
}

// decode makes a glibdump result readable in a failure message.
func decode(s string) string {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line == "." {
			continue
		}
		fields := strings.Fields(line[1:])
		b.WriteString(line[:1])
		for _, f := range fields {
			raw, _ := hex.DecodeString(f)
			fmt.Fprintf(&b, " %q", raw)
		}
		b.WriteString("; ")
	}
	return b.String()
}

// generated returns n files of random lines that are mostly, but not
// always, valid, with the characters where parsers tend to differ. All of
// it is valid UTF-8 without NUL and without an "Encoding" key: where those
// matter Parse differs from GLib on purpose (see the package comment).
func generated(n int) []string {
	var (
		keys = []string{"k", "key", "x y", "--", "a.b", "é", "k[de]", "k[de_DE.UTF-8@euro]",
			"k[]", "k[é٣]", "k\t[de]", "\vk", "k\v", "k [de]", "k[€]", "k[de]x", "[k]", "k]", "#k"}
		names  = []string{"a", "b", " b ", "a b", "é", "", "a[b", "a\tb", "€"}
		spaces = []string{"", "", " ", "\t", "  \t", "\f", "\r", "\v"}
		text   = []string{"v", "v", " ", "\t", "=", "#", "[", "]", "\\s", "\\n", "é", "€", "\r", "\v", "%label%"}
		ends   = []string{"\n", "\n", "\n", "\r\n"}
	)
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(from []string) string { return from[r.IntN(len(from))] }
	files := make([]string, n)
	for i := range files {
		var b strings.Builder
		if r.IntN(4) != 0 {
			b.WriteString("[a]\n")
		}
		lines := r.IntN(8)
		for l := range lines {
			switch x := r.IntN(20); {
			case x < 12:
				b.WriteString(pick(spaces) + pick(keys) + pick(spaces) + "=" + pick(spaces))
				for range r.IntN(4) {
					b.WriteString(pick(text))
				}
			case x < 15:
				b.WriteString(pick(spaces) + "[" + pick(names) + "]" + pick(spaces))
			case x < 17:
				b.WriteString(pick(spaces) + "#" + pick(text))
			case x < 19:
				b.WriteString(pick(spaces))
			default:
				b.WriteString(pick(text) + pick(keys))
			}
			if l < lines-1 || r.IntN(2) == 0 {
				b.WriteString(pick(ends))
			}
		}
		files[i] = b.String()
	}
	return files
}
