/*
 * Differential-test oracle: the C library's POSIX regex engine used the way
 * clsync 0.4.5 uses it (regcomp with REG_EXTENDED|REG_NOSUB, regexec with no
 * flags, no setlocale call so the "C" locale is in effect).
 *
 * Protocol: each stdin line is "<pattern-hex> <subject-hex>" (either may be
 * empty); each stdout line is "1" (match), "0" (no match) or "E<code>"
 * (regcomp failed with that error code).
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unhex(const char *s, size_t n, char *out)
{
	for (size_t i = 0; i + 1 < n; i += 2) {
		unsigned int b;
		if (sscanf(s + i, "%2x", &b) != 1)
			return -1;
		*out++ = (char)b;
	}
	*out = 0;
	return 0;
}

int main(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	while ((len = getline(&line, &cap, stdin)) != -1) {
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = 0;
		char *sp = strchr(line, ' ');
		if (sp == NULL)
			return 2;
		char *pat = malloc(len + 1), *subj = malloc(len + 1);
		if (pat == NULL || subj == NULL)
			return 2;
		if (unhex(line, sp - line, pat) || unhex(sp + 1, strlen(sp + 1), subj))
			return 2;
		regex_t re;
		int rc = regcomp(&re, pat, REG_EXTENDED | REG_NOSUB);
		if (rc != 0) {
			printf("E%d\n", rc);
		} else {
			printf("%d\n", regexec(&re, subj, 0, NULL, 0) == 0);
			regfree(&re);
		}
		fflush(stdout);
		free(pat);
		free(subj);
	}
	free(line);
	return 0;
}
