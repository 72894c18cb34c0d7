// Package split is clsync's process privilege separation
// (--splitting=process): a small privileged helper and an unprivileged
// worker, joined by a SOCK_SEQPACKET pair.
//
// The helper owns the inotify instance and adds its watches, starts
// handlers from its own templates and kills them by handle; the worker does
// everything else (rules, aggregation, lists, the run loop) and reads the
// events. The helper serves a closed set of requests: a malformed one, or
// one no correct worker sends, makes it kill everything and exit.
package split

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/clsync-go/clsync/handlers"
	"github.com/clsync-go/clsync/internal/sdnotify"
)

// WorkerCommand is the hidden first argument that makes clsync the worker.
const WorkerCommand = "__worker"

// version is the protocol's; the helper and the worker are one binary.
const version = 1

// maxMessage bounds one datagram: an exec's include list is bounded by the
// handlers' argv budget (64 KiB of names), which JSON may inflate.
const maxMessage = 1 << 20

// request is one message from the worker. Op says which fields count.
type request struct {
	Op string `json:"op"` // watch, unwatch, exec, kill, status, ready, notify, stats, dump
	ID uint64 `json:"id"`
	// watch: Rel is the directory relative to the watch dir ("" the root),
	// sent with its open descriptor; Mask the inotify mask.
	Rel  string `json:"rel,omitempty"`
	Mask uint32 `json:"mask,omitempty"`
	// unwatch
	WD int32 `json:"wd,omitempty"`
	// exec: the invocation and the CLSYNC_* environment, sent with the
	// descriptor the handler's stderr goes to.
	Inv *handlers.Invocation `json:"inv,omitempty"`
	Env []string             `json:"env,omitempty"`
	// kill
	Handle uint64 `json:"handle,omitempty"`
	// status: the status word for --status-file; notify: the state for
	// systemd.
	Word string `json:"word,omitempty"`
	// stats: the worker's figures (a JSON object) and the syncs ended
	// since the last push, for the helper's metrics endpoint.
	Stats json.RawMessage `json:"stats,omitempty"`
	Syncs []SyncResult    `json:"syncs,omitempty"`
	// dump: the facts of signal 29's dump, one file each, which the
	// helper writes to its own --dump-dir.
	Facts map[string]string `json:"facts,omitempty"`
}

// SyncResult is one sync's duration and whether it succeeded.
type SyncResult struct {
	Seconds float64 `json:"s"`
	OK      bool    `json:"ok"`
}

// maxStats bounds a stats push: figures are a small object, and a push
// every second carries the syncs of that second.
const (
	maxStatsBytes = 4096
	maxSyncs      = 10000
)

// reply is one message from the helper: hello (first), reply (to the
// request with ID), exit (a handler ended).
type reply struct {
	Op       string `json:"op"`
	Version  int    `json:"version,omitempty"`
	ListsDir string `json:"lists_dir,omitempty"`
	ID       uint64 `json:"id,omitempty"`
	Errno    int    `json:"errno,omitempty"`
	WD       int32  `json:"wd,omitempty"`
	Handle   uint64 `json:"handle,omitempty"`
	Code     int    `json:"code,omitempty"`
	Signal   int    `json:"signal,omitempty"`
	// Error is why a handler could not be started or waited for.
	Error string `json:"error,omitempty"`
}

// fdsOf is how many descriptors a request of op carries.
func fdsOf(op string) int {
	switch op {
	case "watch", "exec":
		return 1
	}
	return 0
}

// watchMaskAllowed is every bit a watch may ask for: events, IN_ONLYDIR,
// IN_EXCL_UNLINK. Not IN_DONT_FOLLOW (the path is a magic link to the
// directory the helper resolved), IN_MASK_ADD or IN_ONESHOT.
const watchMaskAllowed = 0x00000fff | 0x01000000 | 0x04000000

var (
	statusWord = regexp.MustCompile(`^[a-z][a-z ]{0,31}$`)
	digits     = regexp.MustCompile(`^[0-9]{0,20}$`)
	envLine    = regexp.MustCompile(`^(CLSYNC_STATUS=[a-z ]{0,32}|CLSYNC_ITERATION=[0-9]{1,20})$`)
)

// parseRequest decodes and checks one request with nfds descriptors
// attached, for a helper whose lists dir is listsDir. Any error is a
// protocol violation.
func parseRequest(b []byte, nfds int, listsDir string) (*request, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r request
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("malformed request: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("malformed request: data after the message")
	}
	if r.ID == 0 {
		return nil, fmt.Errorf("%s request without an id", r.Op)
	}
	if nfds != fdsOf(r.Op) {
		return nil, fmt.Errorf("%s request with %d descriptors", r.Op, nfds)
	}
	var err error
	switch r.Op {
	case "watch":
		err = checkRel(r.Rel)
		if err == nil && (r.Mask == 0 || r.Mask&^watchMaskAllowed != 0) {
			err = fmt.Errorf("watch mask %#x", r.Mask)
		}
	case "unwatch":
		if r.WD <= 0 {
			err = fmt.Errorf("unwatch of wd %d", r.WD)
		}
	case "exec":
		err = checkInvocation(r.Inv, r.Env, listsDir)
	case "kill":
		if r.Handle == 0 {
			err = fmt.Errorf("kill without a handle")
		}
	case "ready":
	case "notify":
		if !sdnotify.Valid(r.Word) {
			err = fmt.Errorf("systemd notification %q", r.Word)
		}
	case "stats":
		err = checkStats(r.Stats, r.Syncs)
	case "dump":
		err = checkFacts(r.Facts)
	case "status":
		if !statusWord.MatchString(r.Word) {
			err = fmt.Errorf("status word %q", r.Word)
		}
	default:
		err = fmt.Errorf("unknown request %q", r.Op)
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// checkStats accepts a JSON object of bounded size and sane durations.
func checkStats(stats json.RawMessage, syncs []SyncResult) error {
	var obj map[string]any
	if len(stats) > maxStatsBytes || json.Unmarshal(stats, &obj) != nil {
		return fmt.Errorf("stats of %d bytes that are no JSON object", len(stats))
	}
	if len(syncs) > maxSyncs {
		return fmt.Errorf("%d syncs in one stats push", len(syncs))
	}
	for _, s := range syncs {
		if !(s.Seconds >= 0 && s.Seconds < 1e9) {
			return fmt.Errorf("sync duration %v", s.Seconds)
		}
	}
	return nil
}

var factName = regexp.MustCompile(`^[a-z][a-z-]{0,31}$`)

// checkFacts accepts a few short facts named like files of one directory.
func checkFacts(facts map[string]string) error {
	if len(facts) == 0 || len(facts) > 32 {
		return fmt.Errorf("a dump of %d facts", len(facts))
	}
	for name, value := range facts {
		if !factName.MatchString(name) || len(value) > 4096 || strings.ContainsRune(value, 0) {
			return fmt.Errorf("dump fact %q", name)
		}
	}
	return nil
}

// checkRel accepts a clean relative path: no "..", not absolute, no empty
// or "." component ("" is the root). Symlinks are refused later, by the
// kernel, when the helper resolves it.
func checkRel(rel string) error {
	if rel == "" {
		return nil
	}
	if strings.ContainsRune(rel, 0) || !filepath.IsLocal(rel) || filepath.Clean(rel) != rel {
		return fmt.Errorf("path %q is not a clean path beneath the watch dir", rel)
	}
	return nil
}

// checkInvocation refuses what no handler of ours asks for: a template
// name Argv does not know is refused by Argv itself.
func checkInvocation(inv *handlers.Invocation, env []string, listsDir string) error {
	if inv == nil {
		return fmt.Errorf("exec without an invocation")
	}
	switch inv.Type {
	case "", "sync", "synclist", "initialsync":
	default:
		return fmt.Errorf("exec of type %q", inv.Type)
	}
	if !digits.MatchString(inv.EventMask) {
		return fmt.Errorf("exec with event mask %q", inv.EventMask)
	}
	switch inv.Shape {
	case "", "dirs", "trees", "files":
	default:
		return fmt.Errorf("exec of rsync shape %q", inv.Shape)
	}
	for _, p := range []string{inv.IncludeListPath, inv.ExcludeListPath, inv.FilesFromPath} {
		if p != "" && (listsDir == "" || filepath.Dir(p) != listsDir || !strings.HasPrefix(filepath.Base(p), ".clsync-") || filepath.Clean(p) != p) {
			return fmt.Errorf("list file %q is not in the lists dir", p)
		}
	}
	for _, p := range inv.IncludeList {
		if strings.ContainsRune(p, 0) {
			return fmt.Errorf("exec argument with a NUL byte")
		}
	}
	for _, e := range env {
		if !envLine.MatchString(e) {
			return fmt.Errorf("exec environment %q", e)
		}
	}
	return nil
}
