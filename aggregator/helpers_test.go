package aggregator

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/clsync-go/clsync/event"
)

// t0 is where the test clocks start; synctest bubbles start there too.
var t0 = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// opLetters spells ops compactly in test scripts: c m a r R.
const opLetters = "cmarR"

func formatOp(op event.Op) string {
	var b strings.Builder
	for i := range len(opLetters) {
		if op&(1<<i) != 0 {
			b.WriteByte(opLetters[i])
		}
	}
	return b.String()
}

func parseOp(s string) (event.Op, error) {
	var op event.Op
	for i := range len(s) {
		j := strings.IndexByte(opLetters, s[i])
		if j < 0 {
			return 0, fmt.Errorf("bad op letter %q", s[i])
		}
		op |= 1 << j
	}
	return op, nil
}

// formatItem writes path:ops, "." for the root, "/d" for directories.
func formatItem(it event.Event) string {
	p := it.Path
	if p == "" {
		p = "."
	}
	s := p + ":" + formatOp(it.Op)
	if it.IsDir {
		s += "/d"
	}
	return s
}

func formatBatch(b Batch) string {
	parts := []string{b.Queue.String()}
	for _, it := range b.Items {
		parts = append(parts, formatItem(it))
	}
	return strings.Join(parts, " ")
}

// parseEvent reads path:ops[/d], "." for the root.
func parseEvent(s string) (event.Event, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return event.Event{}, fmt.Errorf("event %q: want path:ops", s)
	}
	ev := event.Event{Path: s[:i]}
	if ev.Path == "." {
		ev.Path = ""
	}
	ops := s[i+1:]
	if o, ok := strings.CutSuffix(ops, "/d"); ok {
		ops, ev.IsDir = o, true
	}
	op, err := parseOp(ops)
	ev.Op = op
	return ev, err
}

// isBelow reports whether p lies strictly inside directory d.
func isBelow(p, d string) bool {
	if d == "" {
		return p != ""
	}
	return len(p) > len(d) && p[len(d)] == '/' && p[:len(d)] == d
}

// covers reports whether syncing it syncs a change of p.
func covers(it event.Event, p string) bool {
	return it.Path == p || it.Op&event.Rescan != 0 && isBelow(p, it.Path)
}

// checkInvariants verifies the Core's bookkeeping from scratch.
func checkInvariants(t testing.TB, c *Core) {
	t.Helper()
	seen := 0
	var walk func(nd *node) int
	walk = func(nd *node) int {
		seen++
		if c.nodes[nd.path] != nd {
			t.Fatalf("node %q not in the map", nd.path)
		}
		n, kids := 0, 0
		if nd.queued {
			n++
		}
		for k := nd.kids; k != nil; k = k.next {
			if k.parent != nd {
				t.Fatalf("node %q: child %q has another parent", nd.path, k.path)
			}
			if parentPath(k.path) != nd.path {
				t.Fatalf("node %q under %q", k.path, nd.path)
			}
			if nd.queued && nd.op&event.Rescan != 0 {
				t.Fatalf("node %q tracked below queued Rescan %q", k.path, nd.path)
			}
			n += walk(k)
			kids++
		}
		if n == 0 || n != nd.n {
			t.Fatalf("node %q: n = %d, counted %d", nd.path, nd.n, n)
		}
		if kids != nd.nkids {
			t.Fatalf("node %q: nkids = %d, counted %d", nd.path, nd.nkids, kids)
		}
		if kids > c.cfg.CollapseChildren {
			t.Fatalf("node %q: %d children > CollapseChildren %d", nd.path, kids, c.cfg.CollapseChildren)
		}
		return n
	}
	total := 0
	if root := c.nodes[""]; root != nil {
		total = walk(root)
	}
	if seen != len(c.nodes) {
		t.Fatalf("%d nodes reachable, %d in the map", seen, len(c.nodes))
	}
	if len(c.nodes) > c.cfg.MaxItems {
		t.Fatalf("%d nodes > MaxItems %d", len(c.nodes), c.cfg.MaxItems)
	}
	inQueues := 0
	for q := range c.queues {
		qu := &c.queues[q]
		n := 0
		for nd := qu.head; nd != nil; nd = nd.qnext {
			if !nd.queued || nd.q != Queue(q) {
				t.Fatalf("node %q in queue %v: queued=%v q=%v", nd.path, Queue(q), nd.queued, nd.q)
			}
			if nd.qnext != nil && nd.qnext.qprev != nd {
				t.Fatalf("queue %v: broken links at %q", Queue(q), nd.path)
			}
			n++
		}
		if n != qu.len {
			t.Fatalf("queue %v: len %d, counted %d", Queue(q), qu.len, n)
		}
		inQueues += n
	}
	if total != c.queued || inQueues != c.queued || c.Len() != c.queued {
		t.Fatalf("queued %d, tree %d, queues %d", c.queued, total, inQueues)
	}
}
