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
	if strings.IndexByte(word, '%') < 0 {
		return word
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(word, '%')
		if i < 0 {
			b.WriteString(word)
			return b.String()
		}
		b.WriteString(word[:i])
		word = word[i+1:]
		if strings.HasPrefix(word, "%") {
			b.WriteByte('%')
			word = word[1:]
			continue
		}
		j := strings.IndexByte(word, '%')
		if j < 0 {
			b.WriteByte('%')
			b.WriteString(word)
			return b.String()
		}
		name := word[:j]
		if words, ok := vars(name); ok {
			b.WriteString(strings.Join(words, " "))
		} else {
			b.WriteString("%" + name + "%")
		}
		word = word[j+1:]
	}
}
