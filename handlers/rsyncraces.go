package handlers

import (
	"bytes"
	"io"
	"regexp"
)

// rsync exits with 23 ("partial transfer due to error") when the source
// changes under it in ways it does not call "vanished" (its exit 24, which
// rsyncdirect ignores as clsync does): a file replaced by a symlink between
// its file list and its transfer fails to open with ELOOP (rsync opens with
// O_NOFOLLOW), a directory on the way replaced by a file gives ENOTDIR, a
// file gone at an awkward moment ENOENT. The change that did it has an
// event of its own, queued by now, so such a run did all a run could do.
//
// raceLog reads rsync's stderr, passing it on, and tells whether exit 23
// came from such changes alone: rsync's sender named at least one, and
// said nothing else but the warnings that go with a changing tree. Any
// other message (permission denied, a receiver error, "IO error
// encountered -- skipping file deletion", a line it cannot read) makes the
// run a failure like any other.
type raceLog struct {
	out     io.Writer
	partial []byte
	races   int
	others  int
}

// maxRsyncLine bounds a partial line kept between writes; a longer line
// cannot be classified and counts against the run.
const maxRsyncLine = 16 << 10

// senderRace is rsync's rsyserr() line for an error of its sender with one
// of the errnos a changing source causes: ENOENT 2, ENOTDIR 20, ELOOP 40.
var senderRace = regexp.MustCompile(`^rsync: \[sender\] .*: [^:]* \((2|20|40)\)$`)

// benign are the lines rsync prints on a changing tree that do not stand
// for a failure: the warnings of exit 24, the notice of a deletion left to
// a later run, and the summary of exit 23 itself.
var benign = [][]byte{
	[]byte("file has vanished: "),
	[]byte("directory has vanished: "),
	[]byte("cannot delete non-empty directory: "),
	[]byte("rsync warning: some files vanished before they could be transferred"),
	[]byte("rsync error: some files/attrs were not transferred (see previous errors) (code 23)"),
}

func (l *raceLog) Write(p []byte) (int, error) {
	l.out.Write(p)
	data := append(l.partial, p...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		l.line(data[:i])
		data = data[i+1:]
	}
	if len(data) > maxRsyncLine {
		l.others++
		data = nil
	}
	l.partial = append(l.partial[:0], data...)
	return len(p), nil
}

func (l *raceLog) line(b []byte) {
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(bytes.TrimSpace(b)) == 0 {
		return
	}
	if senderRace.Match(b) {
		l.races++
		return
	}
	for _, prefix := range benign {
		if bytes.HasPrefix(b, prefix) {
			return
		}
	}
	l.others++
}

// onlyRaces tells whether what rsync said explains its exit 23 by changes
// of the source alone.
func (l *raceLog) onlyRaces() bool {
	if len(l.partial) > 0 {
		l.line(l.partial)
		l.partial = nil
	}
	return l.races > 0 && l.others == 0
}
