package api

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseMessage(t *testing.T) {
	for _, c := range []struct {
		line string
		want Message
	}{
		{"1 200", Message{Num: 1, ID: 200}},
		{"7 202 /tmp/dump", Message{Num: 7, ID: 202, Args: "/tmp/dump"}},
		// As clsync sends it: two spaces when there are no arguments.
		{"7 302  :Ready", Message{Num: 7, ID: 302, Text: "Ready"}},
		{"3 0 0 :Protocol version is 0.", Message{Num: 3, ID: 0, Args: "0", Text: "Protocol version is 0."}},
		{"8 211 key\x03/ value\x03/", Message{Num: 8, ID: 211, Args: "key\x03/ value\x03/"}},
		{"9 1000", Message{Num: 9, ID: 1000}},
		{"18446744073709551615 1", Message{Num: 1<<64 - 1, ID: 1}},
	} {
		got, err := ParseMessage(c.line)
		if err != nil || got != c.want {
			t.Errorf("ParseMessage(%q) = %+v, %v, want %+v", c.line, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "garbage", "1", "1 ", " 1 200", "1  200", "-1 200", "1 +200", "1 2x", "x 200",
		"18446744073709551616 1", "1 99999999999", "1 200 a\x00b", "1 200\r"} {
		if m, err := ParseMessage(bad); !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseMessage(%q) = %+v, %v, want a syntax error", bad, m, err)
		}
	}
}

func TestLineRoundTrip(t *testing.T) {
	m := Message{Num: 4, ID: 150, Args: "1 4", Text: "Acknowledged command: id == 1; num == 4."}
	if got := m.Line(); got != "4 150 1 4 :Acknowledged command: id == 1; num == 4.\n" {
		t.Fatalf("Line = %q", got)
	}
	if got := (Message{Num: 7, ID: 302, Text: "Ready"}).Line(); got != "7 302  :Ready\n" {
		t.Fatalf("Line = %q, want clsync's two spaces", got)
	}
	if got := (Message{Num: 1, ID: 199, Args: "a\nb", Text: "x\ry"}).Line(); strings.Count(got, "\n") != 1 {
		t.Fatalf("Line %q is not one line", got)
	}
}

func TestFields(t *testing.T) {
	for _, c := range []struct {
		args string
		want []string
	}{
		{"key\x03/ value\x03/", []string{"key", "value"}},
		{"key\x03/ a value with spaces\x03/", []string{"key", "a value with spaces"}},
		{"key value", []string{"key", "value"}},
		{"  /tmp/dump  ", []string{"/tmp/dump"}},
		{"", nil},
	} {
		if got := Fields(c.args); !slices.Equal(got, c.want) {
			t.Errorf("Fields(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}

// Every line parses or is refused; what parses prints back as one line
// that parses to the same number and id.
func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{"1 200", "7 302  :Ready", "8 211 key\x03/ value\x03/", "3 0 0 :x", "9 1000", "1 220 {\"a\":1} :Status"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		m, err := ParseMessage(line)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v is not ErrSyntax", err)
			}
			return
		}
		out := m.Line()
		if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
			t.Fatalf("Line %q is not one line", out)
		}
		back, err := ParseMessage(strings.TrimSuffix(out, "\n"))
		if err != nil || back.Num != m.Num || back.ID != m.ID {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", line, m, out, back, err)
		}
		Fields(m.Args)
	})
}

// Whatever a client sends, the server answers with one line that parses,
// carrying the request's number, or drops the client; it never panics.
func FuzzServerAnswer(f *testing.F) {
	for _, s := range []string{"1 200", "2 201", "3 0 0", "4 0", "5 202 /tmp/x", "6 202", "7 211 k\x03/ v\x03/", "8 211 k",
		"9 220", "10 221", "11 222", "12 223", "13 224", "14 999", "15 1000", "16 250", "17 1 0"} {
		f.Add(s)
	}
	a := newScripted()
	close(a.idle)
	s := &server{cfg: ServerConfig{Agent: a, Version: "1"}, log: discardLogger()}
	f.Fuzz(func(t *testing.T, line string) {
		m, err := ParseMessage(line)
		if err != nil {
			return // the client is dropped
		}
		if m.ID == CmdDie {
			return // answered, then the agent stops
		}
		reply, _ := s.answer(t.Context(), m)
		out := reply.Line()
		back, err := ParseMessage(strings.TrimSuffix(out, "\n"))
		if err != nil || back.Num != m.Num || strings.Count(out, "\n") != 1 {
			t.Fatalf("%q answered %q (%v)", line, out, err)
		}
	})
}
