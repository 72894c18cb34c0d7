package config

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// render writes k back as a key file. Only the fuzz test needs it: it
// checks that what Parse accepts survives a round trip.
func render(k *KeyFile) []byte {
	var b bytes.Buffer
	for _, g := range k.groups {
		b.WriteString("[" + g.name + "]\n")
		for _, e := range g.entries {
			b.WriteString(e.Key + "=" + e.Value)
			// Parse takes a "\r" before "\n" as part of the line ending;
			// a value that ends in "\r" needs a second one to keep it.
			if strings.HasSuffix(e.Value, "\r") {
				b.WriteByte('\r')
			}
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// sameContent compares groups and entries, but not line numbers.
func sameContent(a, b *KeyFile) bool {
	if len(a.groups) != len(b.groups) {
		return false
	}
	for i, ga := range a.groups {
		gb := b.groups[i]
		if ga.name != gb.name || len(ga.entries) != len(gb.entries) {
			return false
		}
		for j, ea := range ga.entries {
			if eb := gb.entries[j]; ea.Key != eb.Key || ea.Value != eb.Value || ea.Group != eb.Group {
				return false
			}
		}
	}
	return true
}

func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte("[a]\nconfig-block-inherits=b\nx=1\n[b]\nconfig-block-inherits=a\n"))
	f.Add([]byte("[a]\nconfig-block-inherits=b\n[b]\nconfig-block-inherits=c\ny=2\n[c]\nx=3\n[default]\nconfig-block-inherits=\n"))
	f.Add([]byte("[default]\nconfig-block-inherits = missing\n"))
	f.Add([]byte("[a]\r\nk=v\r\r\n[b]\nk=v\r"))

	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := Parse(data, "f.conf")
		lines := bytes.Count(data, []byte("\n")) + 1
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Line < 1 || e.Line > lines {
				t.Fatalf("error %#v: not an *Error with a line in 1..%d", err, lines)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q is more than one line", err)
			}
			return
		}
		for _, g := range k.groups {
			for _, e := range g.entries {
				if e.Line < 1 || e.Line > lines {
					t.Fatalf("entry %+v: line not in 1..%d", e, lines)
				}
			}
		}

		out := render(k)
		again, err := Parse(out, "f.conf")
		if err != nil {
			t.Fatalf("rendered file does not parse: %v\n%q", err, out)
		}
		if !sameContent(k, again) {
			t.Fatalf("round trip changed the content:\n%s\nbecame\n%s", dump(k), dump(again))
		}

		names := []string{"default", ""}
		for _, g := range k.groups {
			names = append(names, g.name)
		}
		for _, name := range names {
			checkEffective(t, k, name, func() ([]Entry, error) { return k.Block(name) })
			if len(k.groups) > 0 {
				parent := k.groups[0].name
				checkEffective(t, k, name, func() ([]Entry, error) { return k.BlockInheriting(name, parent) })
			}
		}
	})
}

// checkEffective checks what any successful Block call must return: the
// block's own entries first, then inherited ones, each key once.
func checkEffective(t *testing.T, k *KeyFile, name string, block func() ([]Entry, error)) {
	t.Helper()
	es, err := block()
	if err != nil {
		if !errors.Is(err, ErrSyntax) {
			t.Fatalf("block [%s]: error %v does not match ErrSyntax", name, err)
		}
		return
	}
	own := k.groups[k.byName[name]].entries
	if len(es) < len(own) {
		t.Fatalf("block [%s]: %d entries, fewer than its own %d", name, len(es), len(own))
	}
	seen := map[string]bool{}
	for i, e := range es {
		if seen[e.Key] {
			t.Fatalf("block [%s]: key %q twice", name, e.Key)
		}
		seen[e.Key] = true
		if i < len(own) && e != own[i] {
			t.Fatalf("block [%s]: entry %d is %+v, want its own %+v", name, i, e, own[i])
		}
		if !k.HasGroup(e.Group) {
			t.Fatalf("block [%s]: entry %+v from an unknown block", name, e)
		}
	}
}
