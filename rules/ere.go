package rules

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dlclark/regexp2"
)

// clsync 0.4.5 compiles every rule with regcomp(REG_EXTENDED|REG_NOSUB) and
// never calls setlocale, so glibc interprets the pattern in the "C" locale:
// one byte is one character, character classes are ASCII-only and ranges
// are ordered by byte value. regexp2 implements a different (.NET/Perl)
// dialect on runes, so instead of handing it the POSIX text we parse the
// pattern with glibc's grammar and emit an equivalent regexp2 pattern in
// which every construct is spelled explicitly:
//
//   - subjects are fed to regexp2 as one rune per byte (see bytesToRunes),
//     so every literal byte b is emitted as the rune b and bracket
//     expressions become explicit sets of byte values;
//   - ^ $ \` \' become \A and \z (POSIX anchors only at the ends of the
//     string because clsync does not pass REG_NEWLINE);
//   - GNU \< \> \b \B become lookarounds over [0-9A-Za-z_];
//   - every repetition operand is wrapped in (?:...) so that POSIX "a+?"
//     (a repeated "+" then "?") is not read as a lazy quantifier.
//
// The parser follows glibc's regcomp grammar (parse_reg_exp, parse_branch,
// parse_expression, parse_dup_op, parse_bracket_exp) closely enough that
// patterns glibc rejects are rejected here with the same error code; the
// differential tests in ere_test.go check this against the real libc.
//
// Matching asks only whether some match exists, which a backtracking
// engine and a POSIX one agree on. One glibc quirk is deliberately not
// reproduced: its DFA matcher lets "^" match right after, and "$" right
// before, a newline that the same match consumes (".^b" matches "a\nb"),
// although without REG_NEWLINE they should only match at the ends of the
// string, and its back-reference matcher does not do so. Here they only
// match at the ends. This can only matter for names containing a newline,
// which clsync 0.4.5 ignored anyway (sync.c, sync_queuesync).

// ereCode numbers follow glibc's reg_errcode_t so that the differential
// test can compare failures, not just success.
type ereCode int

const (
	ereBadPat   ereCode = 2  // REG_BADPAT
	ereCollate  ereCode = 3  // REG_ECOLLATE
	ereCtype    ereCode = 4  // REG_ECTYPE
	ereEscape   ereCode = 5  // REG_EESCAPE
	ereSubReg   ereCode = 6  // REG_ESUBREG
	ereBrack    ereCode = 7  // REG_EBRACK
	ereParen    ereCode = 8  // REG_EPAREN
	ereBrace    ereCode = 9  // REG_EBRACE
	ereBadBr    ereCode = 10 // REG_BADBR
	ereRange    ereCode = 11 // REG_ERANGE
	ereBadRpt   ereCode = 13 // REG_BADRPT
	ereSize     ereCode = 15 // REG_ESIZE
	ereInternal ereCode = -1 // regexp2 refused the translation
)

type ereError struct {
	code   ereCode
	detail string // only for ereInternal
}

// Error gives glibc's regerror texts, which clsync users already know.
func (e *ereError) Error() string {
	switch e.code {
	case ereBadPat:
		return "invalid regular expression"
	case ereCollate:
		return "invalid collation character"
	case ereCtype:
		return "invalid character class name"
	case ereEscape:
		return "trailing backslash"
	case ereSubReg:
		return "invalid back reference"
	case ereBrack:
		return "unmatched [, [^, [:, [., or [="
	case ereParen:
		return "unmatched ( or \\("
	case ereBrace:
		return "unmatched \\{"
	case ereBadBr:
		return "invalid content of \\{\\}"
	case ereRange:
		return "invalid range end"
	case ereBadRpt:
		return "invalid preceding regular expression"
	case ereSize:
		return "regular expression too big"
	default:
		return "cannot translate to regexp2: " + e.detail
	}
}

// dupMax is glibc's RE_DUP_MAX: the largest bound allowed in {m,n}.
const dupMax = 0x7fff

// bracketNameMax mirrors glibc's BRACKET_NAME_BUF_SIZE: names in [: :],
// [. .] and [= =] must be shorter than this.
const bracketNameMax = 32

// maxBackref: only \1 to \9 exist; glibc tracks completion for groups 1-9.
const maxBackref = 9

const wordClass = `[0-9A-Za-z_]`

type tokKind uint8

const (
	tkEnd tokKind = iota
	tkChar
	tkAny
	tkBracket    // [
	tkOpenGroup  // (
	tkCloseGroup // )
	tkAlt        // |
	tkStar
	tkPlus
	tkQuestion
	tkOpenBrace  // {
	tkCloseBrace // }
	tkAnchor     // ^ $ \< \> \b \B \` \'
	tkClassEsc   // \w \W \s \S
	tkBackref    // \1 to \9
	tkBackslash  // a lone trailing backslash
)

type token struct {
	kind tokKind
	c    byte // the character (for escapes: the one after the backslash)
	size int  // bytes the token occupies in the pattern
}

type ereParser struct {
	src    string
	pos    int // start of tok
	tok    token
	groups int    // groups opened so far: the next one gets number groups+1
	done   uint16 // bit n set: group n (1-9) is complete, so \n is legal
}

// translateERE converts a POSIX extended regular expression, read as glibc
// does in the C locale, into an equivalent regexp2 pattern.
func translateERE(src string) (string, error) {
	p := &ereParser{src: src}
	p.peek()
	// At the top level only the end of the pattern stops regExp.
	return p.regExp(false)
}

// compileERE translates and compiles a rule pattern.
func compileERE(src string, timeout time.Duration) (*regexp2.Regexp, error) {
	pat, err := translateERE(src)
	if err != nil {
		return nil, err
	}
	// The emitted syntax means the same in regexp2's default and RE2
	// modes; RE2 mode is the narrower, Go-like dialect, so it is the
	// safer reading should anything dialect-specific slip through.
	re, err := regexp2.Compile(pat, regexp2.RE2)
	if err != nil {
		return nil, &ereError{code: ereInternal, detail: err.Error()}
	}
	re.MatchTimeout = timeout
	return re, nil
}

// bytesToRunes maps each byte to the rune of the same value (ISO-8859-1
// decoding). Names are arbitrary bytes, and clsync matched them byte by
// byte; decoding them as UTF-8 instead would fold every invalid byte into
// U+FFFD (making distinct names indistinguishable) and would make "." match
// a multi-byte character where clsync matched one byte. With this mapping,
// matching is deterministic for every byte string and agrees with clsync.
func bytesToRunes(s string) []rune {
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return r
}

// peek decodes the token at p.pos into p.tok without consuming it.
func (p *ereParser) peek() {
	if p.pos >= len(p.src) {
		p.tok = token{kind: tkEnd}
		return
	}
	c := p.src[p.pos]
	t := token{kind: tkChar, c: c, size: 1}
	switch c {
	case '\\':
		if p.pos+1 >= len(p.src) {
			t.kind = tkBackslash
			break
		}
		c2 := p.src[p.pos+1]
		t.c, t.size = c2, 2
		switch {
		case c2 >= '1' && c2 <= '9':
			t.kind = tkBackref
		case strings.IndexByte("<>bB`'", c2) >= 0:
			t.kind = tkAnchor
		case strings.IndexByte("wWsS", c2) >= 0:
			t.kind = tkClassEsc
		default:
			// Any other escaped byte is itself, so "\d" is "d" and
			// "\(" is "(": glibc has no \d, \n or \x escapes.
			t.kind = tkChar
		}
	case '.':
		t.kind = tkAny
	case '[':
		t.kind = tkBracket
	case '(':
		t.kind = tkOpenGroup
	case ')':
		t.kind = tkCloseGroup
	case '|':
		t.kind = tkAlt
	case '*':
		t.kind = tkStar
	case '+':
		t.kind = tkPlus
	case '?':
		t.kind = tkQuestion
	case '{':
		t.kind = tkOpenBrace
	case '}':
		t.kind = tkCloseBrace
	case '^', '$':
		t.kind = tkAnchor
	}
	p.tok = t
}

func (p *ereParser) next() {
	p.pos += p.tok.size
	p.peek()
}

func (p *ereParser) branchEnds(nested bool) bool {
	k := p.tok.kind
	return k == tkAlt || k == tkEnd || (nested && k == tkCloseGroup)
}

// regExp parses alternatives: branch ('|' branch)*. Empty branches are
// allowed, as in glibc.
func (p *ereParser) regExp(nested bool) (string, error) {
	initial := p.done
	first, err := p.branch(nested)
	if err != nil {
		return "", err
	}
	alts := []string{first}
	for p.tok.kind == tkAlt {
		p.next()
		b := ""
		if !p.branchEnds(nested) {
			// A group completed in one alternative cannot be
			// referenced from a later one.
			accumulated := p.done
			p.done = initial
			if b, err = p.branch(nested); err != nil {
				return "", err
			}
			p.done |= accumulated
		}
		alts = append(alts, b)
	}
	return strings.Join(alts, "|"), nil
}

func (p *ereParser) branch(nested bool) (string, error) {
	var sb strings.Builder
	for !p.branchEnds(nested) {
		e, err := p.expression()
		if err != nil {
			return "", err
		}
		sb.WriteString(e)
	}
	return sb.String(), nil
}

// expression parses one atom and the repetition operators after it.
func (p *ereParser) expression() (string, error) {
	var atom string
	switch t := p.tok; t.kind {
	case tkChar, tkCloseGroup, tkCloseBrace:
		// An unmatched ")" at the top level and a lone "}" are
		// ordinary characters in glibc's ERE.
		atom = literal(t.c)
		p.next()
	case tkAny:
		atom = `[\x00-\xff]`
		p.next()
	case tkBracket:
		set, err := p.bracket()
		if err != nil {
			return "", err
		}
		atom = set.pattern()
	case tkOpenGroup:
		p.groups++
		n := p.groups
		p.next()
		inner := ""
		if p.tok.kind != tkCloseGroup {
			var err error
			if inner, err = p.regExp(true); err != nil {
				return "", err
			}
			if p.tok.kind != tkCloseGroup {
				return "", &ereError{code: ereParen}
			}
		}
		if n <= maxBackref {
			p.done |= 1 << n
		}
		p.next()
		atom = "(" + inner + ")"
	case tkStar, tkPlus, tkQuestion, tkOpenBrace:
		return "", &ereError{code: ereBadRpt}
	case tkBackslash:
		return "", &ereError{code: ereEscape}
	case tkAnchor:
		atom = anchor(t.c)
		p.next()
		// glibc returns right after an anchor, so a repetition
		// operator following it starts a new expression and is
		// rejected ("^*" is an error, not a repeated anchor).
		return atom, nil
	case tkClassEsc:
		atom = classEscape(t.c).pattern()
		p.next()
	case tkBackref:
		n := int(t.c - '0')
		if p.done&(1<<n) == 0 {
			return "", &ereError{code: ereSubReg}
		}
		// The group keeps "\1" from absorbing a following digit.
		atom = `(?:\` + string(t.c) + `)`
		p.next()
	default:
		// tkAlt and tkEnd end a branch before expression is called.
		return "", &ereError{code: ereInternal, detail: "unexpected token"}
	}
	for {
		var op string
		switch p.tok.kind {
		case tkStar:
			op = "*"
			p.next()
		case tkPlus:
			op = "+"
			p.next()
		case tkQuestion:
			op = "?"
			p.next()
		case tkOpenBrace:
			var err error
			if op, err = p.interval(); err != nil {
				return "", err
			}
		default:
			return atom, nil
		}
		atom = "(?:" + atom + ")" + op
	}
}

// interval parses "{m}", "{m,}", "{m,n}" or glibc's "{,n}" and returns the
// regexp2 quantifier. p.tok is the "{".
func (p *ereParser) interval() (string, error) {
	p.next()
	start, startTok := p.number()
	if start == -1 {
		if startTok.kind == tkChar && startTok.c == ',' {
			start = 0 // "{,n}" means "{0,n}"
		} else {
			return "", &ereError{code: ereBadBr} // "{}"
		}
	}
	end := -2
	if start != -2 {
		switch {
		case startTok.kind == tkCloseBrace:
			end = start
		case startTok.kind == tkChar && startTok.c == ',':
			p.next()
			end, _ = p.number()
		}
	}
	if start == -2 || end == -2 {
		if p.tok.kind == tkEnd {
			return "", &ereError{code: ereBrace}
		}
		return "", &ereError{code: ereBadBr}
	}
	if (end != -1 && start > end) || p.tok.kind != tkCloseBrace {
		return "", &ereError{code: ereBadBr}
	}
	if max(start, end) > dupMax {
		return "", &ereError{code: ereSize}
	}
	p.next()
	switch {
	case end == -1:
		return "{" + strconv.Itoa(start) + ",}", nil
	case start == end:
		return "{" + strconv.Itoa(start) + "}", nil
	default:
		return "{" + strconv.Itoa(start) + "," + strconv.Itoa(end) + "}", nil
	}
}

// number reads decimal digits up to a "," or "}" and leaves p.tok on that
// token, which it also returns. It returns -1 for no digits, -2 for a
// malformed number or the end of the pattern, and caps large values just
// above dupMax so that the caller reports "too big" without overflowing.
func (p *ereParser) number() (int, token) {
	num := -1
	for {
		t := p.tok
		if t.kind == tkEnd {
			return -2, t
		}
		// Like glibc, this tests the character of any token, so an
		// escaped "\," also separates the bounds.
		if t.kind == tkCloseBrace || t.c == ',' {
			return num, t
		}
		switch {
		case t.kind != tkChar || t.c < '0' || t.c > '9' || num == -2:
			num = -2
		case num == -1:
			num = int(t.c - '0')
		default:
			num = min(dupMax+1, num*10+int(t.c-'0'))
		}
		p.next()
	}
}

// byteSet is a set of byte values: the meaning of a POSIX bracket
// expression in the C locale.
type byteSet [4]uint64

func (s *byteSet) add(b byte)      { s[b>>6] |= 1 << (b & 63) }
func (s *byteSet) has(b byte) bool { return s[b>>6]&(1<<(b&63)) != 0 }
func (s *byteSet) addRange(lo, hi byte) {
	for c := int(lo); c <= int(hi); c++ {
		s.add(byte(c))
	}
}

func (s *byteSet) negate() {
	for i := range s {
		s[i] = ^s[i]
	}
}

// pattern renders the set as a regexp2 character class over runes 0-255.
func (s *byteSet) pattern() string {
	var sb strings.Builder
	sb.WriteByte('[')
	for c := 0; c < 256; {
		if !s.has(byte(c)) {
			c++
			continue
		}
		lo := c
		for c < 256 && s.has(byte(c)) {
			c++
		}
		sb.WriteString(hexByte(byte(lo)))
		if c-1 > lo {
			sb.WriteByte('-')
			sb.WriteString(hexByte(byte(c - 1)))
		}
	}
	if sb.Len() == 1 {
		// Only a negated list naming all 256 bytes is empty; regexp2
		// has no empty class, so spell "never matches" instead.
		return "(?!)"
	}
	sb.WriteByte(']')
	return sb.String()
}

func hexByte(b byte) string { return fmt.Sprintf(`\x%02x`, b) }

// literal renders one pattern byte as a regexp2 atom matching exactly it.
func literal(c byte) string {
	if isAlnum(c) {
		return string(rune(c))
	}
	return hexByte(c)
}

func anchor(c byte) string {
	switch c {
	case '^', '`':
		return `\A`
	case '$', '\'':
		return `\z`
	case '<':
		return `(?<!` + wordClass + `)(?=` + wordClass + `)`
	case '>':
		return `(?<=` + wordClass + `)(?!` + wordClass + `)`
	case 'b':
		return `(?:(?<!` + wordClass + `)(?=` + wordClass + `)|(?<=` + wordClass + `)(?!` + wordClass + `))`
	default: // 'B'
		return `(?:(?<=` + wordClass + `)(?=` + wordClass + `)|(?<!` + wordClass + `)(?!` + wordClass + `))`
	}
}

func classEscape(c byte) *byteSet {
	var s byteSet
	switch c {
	case 'w', 'W':
		s, _ = cClass("alnum")
		s.add('_')
	default: // 's', 'S'
		s, _ = cClass("space")
	}
	if c == 'W' || c == 'S' {
		s.negate()
	}
	return &s
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

// cClass returns a POSIX character class of the C locale, which is the
// locale clsync's regcomp runs in: all of them are ASCII-only.
func cClass(name string) (byteSet, bool) {
	isUpper := func(c byte) bool { return c >= 'A' && c <= 'Z' }
	isLower := func(c byte) bool { return c >= 'a' && c <= 'z' }
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	isGraph := func(c byte) bool { return c > ' ' && c < 0x7f }
	var pred func(c byte) bool
	switch name {
	case "upper":
		pred = isUpper
	case "lower":
		pred = isLower
	case "alpha":
		pred = func(c byte) bool { return isUpper(c) || isLower(c) }
	case "digit":
		pred = isDigit
	case "alnum":
		pred = isAlnum
	case "xdigit":
		pred = func(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
	case "space":
		pred = func(c byte) bool { return c == ' ' || c >= '\t' && c <= '\r' }
	case "blank":
		pred = func(c byte) bool { return c == ' ' || c == '\t' }
	case "cntrl":
		pred = func(c byte) bool { return c < ' ' || c == 0x7f }
	case "graph":
		pred = isGraph
	case "print":
		pred = func(c byte) bool { return c == ' ' || isGraph(c) }
	case "punct":
		pred = func(c byte) bool { return isGraph(c) && !isAlnum(c) }
	default:
		return byteSet{}, false
	}
	var s byteSet
	for c := byte(0); c < 0x80; c++ {
		if pred(c) {
			s.add(c)
		}
	}
	return s, true
}

type elemKind uint8

const (
	elemChar  elemKind = iota
	elemColl           // [.x.]
	elemEquiv          // [=x=]
	elemClass          // [:name:]
)

type bracketElem struct {
	kind elemKind
	c    byte   // elemChar
	name string // the others
}

// Bracket-expression tokens, decoded separately because inside brackets
// only "]", "-", "^" and "[" followed by ".", "=" or ":" are special; in
// particular a backslash is an ordinary character there.
type btok struct {
	kind elemKind // elemChar for an ordinary byte
	c    byte
	end  bool // end of pattern
	size int
}

func (p *ereParser) peekBracket() btok {
	if p.pos >= len(p.src) {
		return btok{end: true}
	}
	c := p.src[p.pos]
	if c == '[' && p.pos+1 < len(p.src) {
		switch p.src[p.pos+1] {
		case '.':
			return btok{kind: elemColl, c: '.', size: 2}
		case '=':
			return btok{kind: elemEquiv, c: '=', size: 2}
		case ':':
			return btok{kind: elemClass, c: ':', size: 2}
		}
	}
	return btok{kind: elemChar, c: c, size: 1}
}

// bracket parses a bracket expression; p.pos is at its "[". It mirrors
// glibc's parse_bracket_exp, including where "]" and "-" are literal.
func (p *ereParser) bracket() (*byteSet, error) {
	var set byteSet
	p.pos++ // "["
	t := p.peekBracket()
	if t.end {
		return nil, &ereError{code: ereBadPat}
	}
	negate := false
	if t.kind == elemChar && t.c == '^' {
		negate = true
		p.pos += t.size
		if t = p.peekBracket(); t.end {
			return nil, &ereError{code: ereBadPat}
		}
	}
	first := true // a first "]" or "-" is literal
	for {
		start, err := p.bracketElem(t, first)
		if err != nil {
			return nil, err
		}
		first = false
		t = p.peekBracket()
		isRange := false
		if start.kind != elemClass && start.kind != elemEquiv {
			if t.end {
				return nil, &ereError{code: ereBrack}
			}
			if t.kind == elemChar && t.c == '-' {
				p.pos += t.size
				t2 := p.peekBracket()
				if t2.end {
					return nil, &ereError{code: ereBrack}
				}
				if t2.kind == elemChar && t2.c == ']' {
					// "-" before the closing "]" is literal.
					p.pos -= t.size
				} else {
					isRange = true
					end, err := p.bracketElem(t2, true)
					if err != nil {
						return nil, err
					}
					if err := addRange(&set, start, end); err != nil {
						return nil, err
					}
					t = p.peekBracket()
				}
			}
		}
		if !isRange {
			if err := addElem(&set, start); err != nil {
				return nil, err
			}
		}
		if t.end {
			return nil, &ereError{code: ereBrack}
		}
		if t.kind == elemChar && t.c == ']' {
			break
		}
	}
	p.pos++ // "]"
	p.peek()
	if negate {
		set.negate()
	}
	return &set, nil
}

// bracketElem consumes the element that starts with token t.
func (p *ereParser) bracketElem(t btok, acceptHyphen bool) (bracketElem, error) {
	p.pos += t.size
	if t.kind != elemChar {
		name, err := p.bracketName(t.c)
		return bracketElem{kind: t.kind, name: name}, err
	}
	if t.c == '-' && !acceptHyphen {
		// Outside the first position and a range end, "-" is only
		// allowed right before the closing "]".
		if n := p.peekBracket(); n.end || n.kind != elemChar || n.c != ']' {
			return bracketElem{}, &ereError{code: ereRange}
		}
	}
	return bracketElem{kind: elemChar, c: t.c}, nil
}

// bracketName reads the name of "[.name.]", "[=name=]" or "[:name:]" up to
// the closing delim and "]"; p.pos is just after the opening "[" delim.
func (p *ereParser) bracketName(delim byte) (string, error) {
	if p.pos >= len(p.src) {
		return "", &ereError{code: ereBrack}
	}
	startPos := p.pos
	for i := 0; ; i++ {
		if i >= bracketNameMax {
			return "", &ereError{code: ereBrack}
		}
		c := p.src[p.pos]
		p.pos++
		if p.pos >= len(p.src) {
			return "", &ereError{code: ereBrack}
		}
		if c == delim && p.src[p.pos] == ']' {
			name := p.src[startPos : p.pos-1]
			p.pos++
			return name, nil
		}
	}
}

// collByte resolves a collating element to its byte: in the C locale only
// single characters are collating elements.
func collByte(e bracketElem) (byte, bool) {
	if e.kind == elemChar {
		return e.c, true
	}
	if len(e.name) == 1 {
		return e.name[0], true
	}
	return 0, false
}

func addElem(set *byteSet, e bracketElem) error {
	if e.kind == elemClass {
		cls, ok := cClass(e.name)
		if !ok {
			return &ereError{code: ereCtype}
		}
		for i := range set {
			set[i] |= cls[i]
		}
		return nil
	}
	// A character, a collating symbol or (in the C locale, where each
	// character is its own equivalence class) an equivalence class.
	b, ok := collByte(e)
	if !ok {
		return &ereError{code: ereCollate}
	}
	set.add(b)
	return nil
}

func addRange(set *byteSet, start, end bracketElem) error {
	if start.kind == elemClass || start.kind == elemEquiv || end.kind == elemClass || end.kind == elemEquiv {
		return &ereError{code: ereRange}
	}
	lo, ok1 := collByte(start)
	hi, ok2 := collByte(end)
	if !ok1 || !ok2 {
		return &ereError{code: ereCollate}
	}
	if lo > hi {
		return &ereError{code: ereRange}
	}
	set.addRange(lo, hi)
	return nil
}
