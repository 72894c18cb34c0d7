// Package api is clsync-go's control socket (-s): clsync 0.4.5's line
// protocol, so that its clients keep working, and the verbs clsync lacks
// (a JSON status, flush, pause, resume, resync, wait-idle), with the Go
// client that `clsync ctl` is built on.
//
// Every message is one line, "NUM ID ARGS :TEXT\n": NUM the sender's
// message number (a reply carries its request's), ID the command, ARGS its
// arguments (strings end with "\x03/"), TEXT a description for humans.
package api

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Command and reply ids of clsync 0.4.5's protocol (socket.h), and ours
// (2xx requests answered by the id 100 higher), which clsync answers with
// ReplyUnknownCmd.
const (
	CmdNegotiation      = 0
	ReplyNegotiation    = 1
	ReplyAck            = 150
	ReplyUnknownCmd     = 160
	ReplyInvalidCmdID   = 161
	ReplyEINVAL         = 162
	ReplyEEXIST         = 163
	ReplyEPERM          = 164
	ReplyECustom        = 199
	CmdVersion          = 200
	CmdInfo             = 201
	CmdDump             = 202
	CmdLogin            = 210
	CmdSet              = 211
	CmdStatus           = 220
	CmdFlush            = 221
	CmdPause            = 222
	CmdResume           = 223
	CmdResync           = 224
	CmdWaitIdle         = 225
	CmdDie              = 240
	CmdQuit             = 250
	ReplyVersion        = 300
	ReplyInfo           = 301
	ReplyDump           = 302
	ReplySet            = 311
	ReplyStatus         = 320
	ReplyFlush          = 321
	ReplyPause          = 322
	ReplyResume         = 323
	ReplyResync         = 324
	ReplyWaitIdle       = 325
	ReplyDie            = 340
	ReplyBye            = 350
	ReplyUnexpectedEnd  = 351
	maxCmdID            = 1000
	argEnd              = "\x03/"
	protocolVersion     = 0
	subprotocolText     = 0
	maxLine             = 4096
	greetingDescription = "Protocol version is 0."
)

// Message is one line of the protocol.
type Message struct {
	Num  uint64
	ID   int
	Args string
	Text string
}

// ErrSyntax is a line that is not "NUM ID[ ARGS][ :TEXT]".
var ErrSyntax = errors.New("not a control protocol line")

// ParseMessage parses one line, without its "\n". ARGS end at the first
// " :"; an id of 1000 or more parses (the server answers it with
// ReplyInvalidCmdID), one that does not fit an int does not.
func ParseMessage(line string) (Message, error) {
	var m Message
	if strings.ContainsAny(line, "\x00\n\r") {
		return m, fmt.Errorf("%w: control characters", ErrSyntax)
	}
	numStr, rest, _ := strings.Cut(line, " ")
	idStr, rest, hasRest := strings.Cut(rest, " ")
	num, err := strconv.ParseUint(numStr, 10, 64)
	if err != nil || !digits(numStr) {
		return m, fmt.Errorf("%w: message number %q", ErrSyntax, numStr)
	}
	id, err := strconv.ParseUint(idStr, 10, 31)
	if err != nil || !digits(idStr) {
		return m, fmt.Errorf("%w: command id %q", ErrSyntax, idStr)
	}
	m.Num, m.ID = num, int(id)
	if hasRest {
		if i := strings.Index(" "+rest, " :"); i >= 0 {
			if i > 0 {
				m.Args = rest[:i-1]
			}
			m.Text = rest[i+1:]
		} else {
			m.Args = rest
		}
	}
	return m, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Line is m as sent: "NUM ID ARGS :TEXT\n", two spaces when ARGS is empty,
// as clsync sends it.
func (m Message) Line() string {
	return strconv.FormatUint(m.Num, 10) + " " + strconv.Itoa(m.ID) + " " + clean(m.Args) + " :" + clean(m.Text) + "\n"
}

// clean keeps s on one line.
func clean(s string) string {
	return strings.NewReplacer("\n", `\n`, "\r", `\r`, "\x00", "").Replace(s)
}

// Fields splits ARGS: at clsync's "\x03/" string ends when they are there,
// otherwise at spaces.
func Fields(args string) []string {
	if !strings.Contains(args, argEnd) {
		return strings.Fields(args)
	}
	var out []string
	for {
		f, rest, ok := strings.Cut(args, argEnd)
		if !ok {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, strings.Fields(f)...)
			}
			return out
		}
		out = append(out, strings.TrimPrefix(f, " "))
		args = rest
	}
}

// str is s as a string argument: its end marked, no marker inside.
func str(s string) string { return strings.ReplaceAll(clean(s), argEnd, "") + argEnd }
