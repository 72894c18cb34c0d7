package cli

import (
	"fmt"
	"io"
	"strings"
)

// WriteMan writes the manual page clsync.1 (roff, man macros): the option
// table's names and help, and the sections around them, so that the page
// and --help never disagree.
func WriteMan(w io.Writer, version, date string) {
	fmt.Fprintf(w, ".TH CLSYNC 1 %q \"clsync-go %s\" \"User Commands\"\n", date, version)
	fmt.Fprint(w, `.SH NAME
clsync \- keep a destination equal to a watched directory tree, live
.SH SYNOPSIS
.B clsync
[\fIOPTION\fR]... [\fB\-\-\fR \fIHANDLER\-ARGUMENT\fR...]
.br
.B clsync ctl
\fB\-s\fR \fIPATH\fR [\fB\-\-json\fR] [\fB\-\-timeout\fR \fIDURATION\fR]
\fBstatus\fR|\fBflush\fR|\fBpause\fR|\fBresume\fR|\fBresync\fR|\fBwait\-idle\fR
.SH DESCRIPTION
.B clsync
watches a directory tree with inotify, batches what changed and hands each
batch to a sync handler (rsync itself with \fB\-Mrsyncdirect\fR, or your
program), so that a mirror, a cluster peer or a backup stays current within
seconds.
It is clsync-go, a command-line compatible successor of clsync 0.4.5: the
same options, config file (\fB/etc/clsync/clsync.conf\fR,
\fB~/.clsync.conf\fR), rules, list files and handler calling conventions.
Where it differs, the README says why.
.SH OPTIONS
Long options take their value after "=" or as the next word; a config file
key is the long option's name.
`)
	for _, o := range optionTable {
		if o.configOnly {
			continue
		}
		fmt.Fprint(w, ".TP\n")
		var b strings.Builder
		if o.short != 0 {
			fmt.Fprintf(&b, "\\fB\\-%c\\fR, ", o.short)
		}
		fmt.Fprintf(&b, "\\fB\\-\\-%s\\fR", roff(o.name))
		switch {
		case o.arg == argRequired:
			fmt.Fprintf(&b, "=\\fI%s\\fR", roff(o.param))
		case o.arg == argOptional && o.param != "":
			fmt.Fprintf(&b, "[=\\fI%s\\fR]", roff(o.param))
		}
		fmt.Fprintf(w, "%s\n%s\n", b.String(), roff(o.help))
	}
	fmt.Fprint(w, `.SH CONTROL
\fBclsync ctl\fR talks to an agent started with \fB\-s\fR \fIPATH\fR:
.TP
\fBstatus\fR
state, paths waiting per queue and in running syncs, the oldest change's age,
the last sync, syncs done and failed, watches against the limit, overflows,
rescans and the initial sync's progress (\fB\-\-json\fR: as JSON)
.TP
\fBflush\fR
sync every change made so far, now, whatever the delays say
.TP
\fBpause\fR, \fBresume\fR
hold syncing (changes keep being collected) and let it go on
.TP
\fBresync\fR
queue a full resync
.TP
\fBwait\-idle\fR
return once every change made before it is synced and nothing waits or runs
.PP
The socket is 0600 unless \fB\-\-socket\-mod\fR says otherwise; it speaks
clsync 0.4.5's line protocol too. \fBctl\fR exits 16 when syncing is paused
(flush, wait\-idle), 110 at \fB\-\-timeout\fR, 111 when no agent listens.
.SH SIGNALS
.TP
\fBSIGTERM\fR, \fBSIGINT\fR
stop now, killing a running handler
.TP
\fBSIGQUIT\fR
stop once the running sync ends (with \fB\-\-sync\-on\-quit\fR, after syncing
every change made before the signal)
.TP
\fBSIGHUP\fR
re-read the rules file
.TP
\fBSIGUSR2\fR
resync the whole tree
.TP
\fB29\fR
dump the state to \fB\-\-dump\-dir\fR
.SH EXIT STATUS
0 on success; 22 for invalid input, 2 for a missing file or directory, 13 for
a permission problem (nothing is started then); the handler's own code when a
sync that cannot be retried fails; 71 when a privilege-separated worker broke
its protocol.
.SH ENVIRONMENT
\fBNOTIFY_SOCKET\fR, \fBWATCHDOG_USEC\fR: systemd's notification socket and
watchdog (\fBType=notify\fR). \fBJOURNAL_STREAM\fR: logs for the journal.
Handlers get \fBCLSYNC_STATUS\fR and \fBCLSYNC_ITERATION\fR.
.SH FILES
\fB/etc/clsync/clsync.conf\fR, \fB~/.clsync.conf\fR: the config file.
.SH EXAMPLES
.nf
clsync \-Mrsyncdirect \-W /srv/www \-D /backup/www
clsync \-w0 \-t0 \-T0 \-Mrsyncdirect \-W /srv/www \-D /backup/www
clsync \-\-secure\-splitting \-\-landlock \-Mrsyncdirect \-W /srv/www \-D /backup/www
systemctl enable \-\-now clsync@www
.fi
.SH SEE ALSO
.BR rsync (1),
.BR inotify (7),
.BR capabilities (7),
.BR landlock (7),
.BR systemd.service (5)
`)
}

// roff escapes text for a man page: backslashes, hyphens (a plain "-" is
// a hyphen, options want the minus sign) and a leading dot or quote.
func roff(s string) string {
	s = strings.NewReplacer(`\`, `\e`, "-", `\-`).Replace(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
