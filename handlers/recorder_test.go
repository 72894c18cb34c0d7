package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clsync-go/clsync/event"
	"github.com/clsync-go/clsync/internal/testlog"
)

// The recording handler appends one record per run to a file: its argv,
// CLSYNC_STATUS, CLSYNC_ITERATION, its cwd, and the content of every list
// file among its arguments, as NUL-terminated fields (argv and file names
// cannot hold a NUL; a NUL-separated list, rsyncdirect's --from0 lists,
// is recorded with newlines). It runs then, a shell snippet
// (rsync, an exit code), after collecting the record and before appending
// it, so that a run is in the record only once it is over.
const recorderScript = `#!/bin/sh
tmp=$(mktemp '%[1]s.XXXXXX') || exit 99
trap 'cat "$tmp" >>'"'"'%[1]s'"'"'; rm -f "$tmp"' EXIT
{
printf 'run\0%%s\0' "$#"
printf '%%s\0' "$@"
printf '%%s\0%%s\0%%s\0' "${CLSYNC_STATUS-unset}" "${CLSYNC_ITERATION-unset}" "$(pwd)"
for a in "$@"; do
	case "${a##*/}" in
	.clsync-*) if [ -f "$a" ]; then printf 'list\0'; tr '\0' '\n' <"$a"; printf '\0'; fi;;
	esac
done
printf 'end\0'
} >"$tmp"
%[2]s
`

// run is one recorded handler run.
type run struct {
	Args              []string // argv without argv[0]
	Status, Iteration string
	Cwd               string
	Lists             []string // contents of the list files, in argv order
}

func (r run) String() string {
	return fmt.Sprintf("args=%q status=%s iteration=%s cwd=%s lists=%q", r.Args, r.Status, r.Iteration, r.Cwd, r.Lists)
}

type recorder struct {
	script, record string
}

// newRecorder writes the recording handler; then runs in each run (not
// with exec: the record is appended when the script exits).
func newRecorder(t *testing.T, then string) *recorder {
	t.Helper()
	dir := t.TempDir()
	r := &recorder{script: filepath.Join(dir, "handler"), record: filepath.Join(dir, "record")}
	if strings.Contains(r.record, "'") {
		t.Fatalf("temp dir %q has a quote", r.record)
	}
	if err := os.WriteFile(r.script, []byte(fmt.Sprintf(recorderScript, r.record, then)), 0o755); err != nil {
		t.Fatal(err)
	}
	return r
}

// runs parses the record so far; a half-written last record is left out.
func (r *recorder) runs(t *testing.T) []run {
	t.Helper()
	data, err := os.ReadFile(r.record)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Split(string(data), "\x00")
	var out []run
	for i := 0; i < len(fields); {
		if fields[i] == "" && i == len(fields)-1 {
			break
		}
		if fields[i] != "run" {
			t.Fatalf("record %s: field %d is %q, want run", r.record, i, fields[i])
		}
		var n int
		if _, err := fmt.Sscan(fields[i+1], &n); err != nil {
			t.Fatalf("record: argc %q: %v", fields[i+1], err)
		}
		i += 2
		if i+n+3 > len(fields) {
			break
		}
		rn := run{Args: fields[i : i+n]}
		i += n
		rn.Status, rn.Iteration, rn.Cwd = fields[i], fields[i+1], fields[i+2]
		i += 3
		for i+1 < len(fields) && fields[i] == "list" {
			rn.Lists = append(rn.Lists, fields[i+1])
			i += 2
		}
		if i >= len(fields) || fields[i] != "end" {
			break
		}
		i++
		out = append(out, rn)
	}
	return out
}

func (r *recorder) reset(t *testing.T) {
	t.Helper()
	if err := os.Remove(r.record); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}

// tree makes files (content = name), directories (a trailing "/") and
// symlinks ("name -> target") under root.
func tree(t *testing.T, root string, entries ...string) {
	t.Helper()
	for _, e := range entries {
		if name, target, ok := strings.Cut(e, " -> "); ok {
			if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		p := filepath.Join(root, e)
		if strings.HasSuffix(e, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(e), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// setup is a watch dir, a recording handler and a Config for them.
type setup struct {
	src, dst string
	rec      *recorder
	cfg      Config
	log      *testlog.Buffer
}

func newSetup(t *testing.T, mode string, options map[string]string) *setup {
	t.Helper()
	dir := t.TempDir()
	s := &setup{src: filepath.Join(dir, "src"), dst: filepath.Join(dir, "dst"), rec: newRecorder(t, ""), log: &testlog.Buffer{}}
	for _, d := range []string{s.src, s.dst} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s.cfg = Config{
		Mode: mode, Program: s.rec.script, WatchDir: s.src, Destination: s.dst, Label: "lbl",
		Env: func() []string { return IterationEnv("running", 7) },
		Option: func(name string) (string, bool) {
			v, ok := options[name]
			return v, ok
		},
		Logger:            slog.New(slog.NewTextHandler(s.log, nil)),
		HaveRecursiveSync: flagSet(options, "have-recursive-sync"),
		SynclistSimplify:  flagSet(options, "synclist-simplify"),
	}
	return s
}

// flagSet reads a flag from a test's options map as the command line would
// set it: present and not "0".
func flagSet(options map[string]string, name string) bool {
	v, ok := options[name]
	return ok && v != "0"
}

func (s *setup) handler(t *testing.T) Handler {
	t.Helper()
	h, err := New(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Error(err)
		}
	})
	return h
}

func (s *setup) sync(t *testing.T, h Handler, initial bool, items ...event.Event) []run {
	t.Helper()
	s.rec.reset(t)
	if err := h.Sync(context.Background(), items, initial); err != nil {
		t.Fatal(err)
	}
	return s.rec.runs(t)
}

// want is an expected run: its arguments and list contents; the
// environment and cwd are the same for all runs of a setup.
type want struct {
	args  []string
	lists []string
}

func (s *setup) check(t *testing.T, got []run, wants ...want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("%d runs, want %d:\n%s", len(got), len(wants), runsString(got))
	}
	for i, w := range wants {
		g := got[i]
		if !slices.Equal(g.Args, w.args) || !slices.Equal(g.Lists, w.lists) {
			t.Errorf("run %d:\n got  args=%q lists=%q\n want args=%q lists=%q", i, g.Args, g.Lists, w.args, w.lists)
		}
		if g.Status != "running" || g.Iteration != "7" || g.Cwd != s.src {
			t.Errorf("run %d: status=%q iteration=%q cwd=%q, want running, 7, %s", i, g.Status, g.Iteration, g.Cwd, s.src)
		}
	}
}

func runsString(runs []run) string {
	var b strings.Builder
	for _, r := range runs {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}
