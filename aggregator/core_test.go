package aggregator

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clsync-go/clsync/event"
)

// runScript drives a Core through a script, one command a line, each line
// starting with its time since t0:
//
//	0s add a:m d:cR/d   events (ops: c m a r R; /d: directory; ".": root)
//	9s next             no batch expected
//	10s next normal a:m the expected batch
//	10s flush ...       like next, through Flush
//	10s wake 30s        Wake must say t0+30s; "wake -": no wake
//	11s done            the run ended
//	12s requeue         the latest batch failed: requeue its items
//	13s rescan          Core.Rescan
//	13s len 3           queued paths
//	0s size f 500       the fake Stat's answer for f from now on
func runScript(t *testing.T, cfg Config, script string) {
	t.Helper()
	sizes := map[string]int64{}
	cfg.Stat = func(rel string) (int64, bool) {
		s, ok := sizes[rel]
		return s, ok
	}
	c := NewCore(cfg)
	var last Batch
	for ln, line := range strings.Split(strings.TrimSpace(script), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			t.Fatalf("line %d: %q: want time and command", ln+1, line)
		}
		d, err := time.ParseDuration(f[0])
		if err != nil {
			t.Fatalf("line %d: %v", ln+1, err)
		}
		now, args := t0.Add(d), f[2:]
		switch f[1] {
		case "add":
			var evs []event.Event
			for _, a := range args {
				ev, err := parseEvent(a)
				if err != nil {
					t.Fatalf("line %d: %v", ln+1, err)
				}
				evs = append(evs, ev)
			}
			c.Add(evs, now)
		case "next", "flush":
			var b Batch
			var ok bool
			if f[1] == "next" {
				b, ok = c.Next(now)
			} else {
				b, ok = c.Flush(now)
			}
			want := strings.Join(args, " ")
			got := ""
			if ok {
				got = formatBatch(b)
				last = b
			}
			if got != want {
				t.Fatalf("line %d: %q: got %q", ln+1, line, got)
			}
		case "wake":
			w, ok := c.Wake(now)
			got, want := "-", args[0]
			if ok {
				got = w.Sub(t0).String()
			}
			if d, err := time.ParseDuration(want); err == nil {
				want = d.String()
			}
			if got != want {
				t.Fatalf("line %d: %q: got wake %s", ln+1, line, got)
			}
		case "done":
			c.Done()
		case "requeue":
			c.Requeue(last.Items, now)
		case "rescan":
			c.Rescan(now)
		case "len":
			if got := strconv.Itoa(c.Len()); got != args[0] {
				t.Fatalf("line %d: %q: got len %s", ln+1, line, got)
			}
		case "size":
			n, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil {
				t.Fatalf("line %d: %v", ln+1, err)
			}
			sizes[args[0]] = n
		default:
			t.Fatalf("line %d: unknown command %q", ln+1, f[1])
		}
		checkInvariants(t, c)
	}
}

func TestCoreScripts(t *testing.T) {
	base := Config{
		CollectDelay:     10 * time.Second,
		BigFileDelay:     100 * time.Second,
		BigFileThreshold: 100,
	}
	with := func(f func(*Config)) Config {
		c := base
		f(&c)
		return c
	}
	tests := []struct {
		name   string
		cfg    Config
		script string
	}{
		{"due at first event + collect delay", base, `
0s add a:m
5s add b:c
9.999s next
9.999s wake 10s
10s next normal a:m b:c
10s wake -
10s add c:m
10s next
11s done
11s wake 20s
20s next normal c:m
21s done
21s wake -`},
		{"zero delays are instant", with(func(c *Config) { c.CollectDelay = 0 }), `
0s wake -
0s add a:m
0s wake 0s
0s next normal a:m
0s add b:m
0s next
0s done
0s next normal b:m`},
		{"-w counts from the start of the previous run", with(func(c *Config) {
			c.CollectDelay = 0
			c.SyncDelay = 10 * time.Second
		}), `
0s add a:m
0s next normal a:m
3s done
4s add b:m
4s next
4s wake 10s
9.9s next
10s next normal b:m
14s add c:m
25s next
25s wake -
25s done
25s next normal c:m`},
		{"-w holds a queue past its collect delay", with(func(c *Config) { c.SyncDelay = 15 * time.Second }), `
0s add a:m
10s next normal a:m
11s done
12s add b:m
12s wake 25s
22s next
24.9s next
25s wake 25s
25s next normal b:m`},
		{"big files wait -T; the threshold is exclusive", base, `
0s size big 101
0s size edge 100
0s size small 1
0s add big:m edge:m small:m gone:m
10s next normal edge:m gone:m small:m
10s done
10s wake 100s
99s next
100s next bigfile big:m`},
		{"queues due together go in one run", with(func(c *Config) { c.BigFileDelay = 10 * time.Second }), `
0s size big 500
0s add big:m small:m
10s next normal big:m small:m
10s done
10s len 0`},
		{"a removal promotes a big file to the normal queue", base, `
0s size f 500
0s add f:m
50s add f:r
50s wake 60s
60s next normal f:mr`},
		{"a growing file stays in the earlier queue", base, `
0s size f 1
0s add f:c
5s size f 500
5s add f:m
10s next normal f:cm
10s done
11s add f:m
21s next
111s next bigfile f:m`},
		{"ops are OR-ed, IsDir comes from the latest event", base, `
0s add x:c/d
1s add x:r/d
2s add x:c
2s len 1
10s next normal x:cr`},
		{"Rescan drops descendants but not siblings sharing a prefix", base, `
0s add a/b:m a/c/d:m ab:m a-b:m
1s add a:R/d
1s len 3
2s add a/x/y:c a:m/d
2s len 3
10s next normal a:mR/d a-b:m ab:m`},
		{"Rescan of the root covers everything", base, `
0s add a:m b/c:m .:R/d
0s len 1
1s add z:m .:a/d
10s next normal .:aR/d`},
		{"Rescan keeps the earliest due time of what it covers", with(func(c *Config) {
			c.CollectDelay = 100 * time.Second
			c.BigFileDelay = 10 * time.Second
		}), `
0s size d/big 500
0s add d/big:m
5s add d:R/d
5s wake 10s
10s next bigfile d:R/d`},
		{"an absorbed event moves its Rescan to an earlier queue", with(func(c *Config) {
			c.CollectDelay = 100 * time.Second
			c.BigFileDelay = 10 * time.Second
		}), `
0s size d/big 500
0s add d:R/d
5s add d/big:m
5s len 1
5s wake 15s
15s next bigfile d:R/d`},
		{"children collapse into their directory, keeping the due time", with(func(c *Config) { c.CollapseChildren = 2 }), `
0s add d/1:m
5s add d/2:m
5s len 2
9s add d/3:m
9s len 1
10s next normal d:R/d`},
		{"children holding deeper paths collapse too", with(func(c *Config) { c.CollapseChildren = 2 }), `
0s add d:a/d d/x/1:m d/y/1:m
0s len 3
1s add d/z/1:m
1s len 1
10s next normal d:aR/d`},
		{"too many paths collapse into the root", with(func(c *Config) { c.MaxItems = 4 }), `
0s add a:m b:m c:m
0s len 3
5s add d:m
5s len 1
10s next normal .:R/d`},
		{"a requeued batch is due at once, subject to -w", with(func(c *Config) { c.SyncDelay = 20 * time.Second }), `
0s add a:m
10s next normal a:m
11s add a:c b:m
12s done
12s requeue
12s len 2
12s next
12s wake 30s
30s next normal a:cm b:m`},
		{"a requeued big file is due at once in the normal queue", base, `
0s size big 500
0s add big:m
100s next bigfile big:m
101s done
101s requeue
101s next normal big:m`},
		{"Flush ignores every delay", with(func(c *Config) { c.SyncDelay = 50 * time.Second }), `
0s size big 500
0s add big:m a:m
0s flush normal a:m big:m
0s flush
1s add b:m
1s flush
2s done
2s flush normal b:m
3s done
3s flush`},
		{"Rescan is instant: -w does not hold it", with(func(c *Config) { c.SyncDelay = 100 * time.Second }), `
0s add a:m
10s next normal a:m
12s add b:m
13s rescan
13s wake -
13s next
14s done
14s wake 14s
14s next instant .:R/d
15s done
15s add c:m
15s wake 114s`},
		{"items are sorted by path bytes", base, `
0s add b:m a/b:m a:m/d A:m a-b:m ` + "\xff:m é:m" + `
10s next normal A:m a:m/d a-b:m a/b:m b:m ` + "é:m \xff:m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runScript(t, tt.cfg, tt.script) })
	}
}

func TestStatOnlyForRegularFileEvents(t *testing.T) {
	var calls []string
	cfg := Config{
		CollectDelay:     10 * time.Second,
		BigFileDelay:     100 * time.Second,
		BigFileThreshold: 100,
		Stat: func(rel string) (int64, bool) {
			calls = append(calls, rel)
			return 1, true
		},
	}
	c := NewCore(cfg)
	c.Add([]event.Event{
		{Path: "dir", Op: event.Create, IsDir: true},
		{Path: "gone", Op: event.Remove},
		{Path: "moved", Op: event.Remove | event.Create},
		{Path: "scan", Op: event.Rescan},
		{Path: "file", Op: event.Modify},
		// Already in the normal queue, due before anything this event
		// could choose: no lstat.
		{Path: "file", Op: event.Modify},
	}, t0)
	if !slices.Equal(calls, []string{"file"}) {
		t.Fatalf("Stat called for %q, want only [file]", calls)
	}

	cfg.BigFileThreshold = 0
	calls = nil
	c = NewCore(cfg)
	c.Add([]event.Event{{Path: "file", Op: event.Modify}}, t0)
	if len(calls) != 0 {
		t.Fatalf("-B 0 still calls Stat: %q", calls)
	}
}

func TestMaskIsORed(t *testing.T) {
	c := NewCore(Config{})
	c.Add([]event.Event{{Path: "f", Op: event.Create, Mask: 0x100}}, t0)
	c.Add([]event.Event{{Path: "f", Op: event.Modify, Mask: 0x2}, {Path: "g", Op: event.Modify, Mask: 0x8}}, t0)
	b, ok := c.Next(t0)
	if !ok {
		t.Fatal("no batch")
	}
	want := []event.Event{
		{Path: "f", Op: event.Create | event.Modify, Mask: 0x102},
		{Path: "g", Op: event.Modify, Mask: 0x8},
	}
	if !slices.Equal(b.Items, want) {
		t.Fatalf("got %+v, want %+v", b.Items, want)
	}
}

func TestCollapseCoversEveryPath(t *testing.T) {
	for _, tt := range []struct {
		name             string
		maxItems, kids   int
		paths            func(i int) string
		n                int
		wantRoot, wantIn string
	}{
		{"children of one dir", 0, 10, func(i int) string { return "top/d/f" + strconv.Itoa(i) }, 50, "", "top/d"},
		{"subdirs of one dir", 0, 10, func(i int) string { return "d/s" + strconv.Itoa(i) + "/f" }, 50, "", "d"},
		{"deep unique paths", 40, 0, func(i int) string { return strings.Repeat("x/", i%7) + "f" + strconv.Itoa(i) }, 200, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCore(Config{CollectDelay: time.Second, MaxItems: tt.maxItems, CollapseChildren: tt.kids})
			var all []string
			for i := range tt.n {
				p := tt.paths(i)
				all = append(all, p)
				c.Add([]event.Event{{Path: p, Op: event.Modify}}, t0)
				checkInvariants(t, c)
			}
			b, ok := c.Flush(t0)
			if !ok {
				t.Fatal("nothing queued")
			}
			if len(b.Items) != 1 || b.Items[0].Path != tt.wantIn || b.Items[0].Op&event.Rescan == 0 || !b.Items[0].IsDir {
				t.Fatalf("got %s, want one Rescan of %q", formatBatch(b), tt.wantIn)
			}
			for _, p := range all {
				if !covers(b.Items[0], p) {
					t.Fatalf("%q not covered by %s", p, formatBatch(b))
				}
			}
		})
	}
}

func TestQueueString(t *testing.T) {
	for q, want := range map[Queue]string{Normal: "normal", BigFile: "bigfile", Instant: "instant", 7: "queue(7)"} {
		if got := q.String(); got != want {
			t.Errorf("Queue(%d).String() = %q, want %q", q, got, want)
		}
	}
}

func TestNewCoreDefaults(t *testing.T) {
	c := NewCore(Config{CollectDelay: -time.Second})
	if c.cfg.MaxItems != DefaultMaxItems || c.cfg.CollapseChildren != DefaultCollapseChildren || c.cfg.CollectDelay != 0 {
		t.Fatalf("got %+v", c.cfg)
	}
	d := DefaultConfig()
	if d.CollectDelay != 30*time.Second || d.BigFileDelay != 1800*time.Second || d.SyncDelay != 30*time.Second || d.BigFileThreshold != 128<<20 {
		t.Fatalf("DefaultConfig() = %+v, want clsync's -t 30 -T 1800 -w 30 -B 134217728", d)
	}
}
