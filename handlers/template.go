package handlers

import "strings"

// Vars resolves template variables: %name% → words. A variable that stands
// alone as a whole word may expand to several words (%INCLUDE-LIST%,
// %RSYNC-ARGS%); inside a longer word its words are joined by spaces.
type Vars func(name string) (words []string, ok bool)

// ExpandTemplate builds a handler argv from a template such as clsync's
// "-aH --delete ... %watch-dir%/ %destination-dir%/". Unknown variables are
// kept as they are, like clsync does, so a typo shows up in the handler's
// argv instead of vanishing. "%%" is a literal "%".
func ExpandTemplate(template []string, vars Vars) []string {
	out := make([]string, 0, len(template))
	for _, word := range template {
		if name, whole := wholeVar(word); whole {
			if words, ok := vars(name); ok {
				out = append(out, words...)
				continue
			}
		}
		out = append(out, expandWord(word, vars))
	}
	return out
}

func wholeVar(word string) (string, bool) {
	if len(word) < 3 || word[0] != '%' || word[len(word)-1] != '%' {
		return "", false
	}
	name := word[1 : len(word)-1]
	if strings.IndexByte(name, '%') >= 0 {
		return "", false
	}
	return name, true
}

func expandWord(word string, vars Vars) string {
	return ExpandVars(word, func(name string) (string, bool) {
		words, ok := vars(name)
		return strings.Join(words, " "), ok
	})
}

// ExpandVars replaces each %name% in s that lookup knows, keeps the others
// as they are (clsync leaves unknown names for a later expansion), and
// turns "%%" into "%". Options in the config file use it too.
func ExpandVars(s string, lookup func(name string) (string, bool)) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i+1:]
		if strings.HasPrefix(s, "%") {
			b.WriteByte('%')
			s = s[1:]
			continue
		}
		j := strings.IndexByte(s, '%')
		if j < 0 {
			b.WriteByte('%')
			b.WriteString(s)
			return b.String()
		}
		name := s[:j]
		if v, ok := lookup(name); ok {
			b.WriteString(v)
		} else {
			b.WriteString("%" + name + "%")
		}
		s = s[j+1:]
	}
}
