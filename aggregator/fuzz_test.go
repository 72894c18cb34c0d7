package aggregator

import (
	"hash/fnv"
	"strings"
	"testing"
	"time"

	"github.com/clsync-go/clsync/event"
)

// fuzzInput hands out the fuzzer's bytes; zeros once they run out.
type fuzzInput []byte

func (in *fuzzInput) byte() byte {
	if len(*in) == 0 {
		return 0
	}
	b := (*in)[0]
	*in = (*in)[1:]
	return b
}

// fuzzSize is the fake lstat: fixed per path, some paths gone.
func fuzzSize(p string) (int64, bool) {
	h := fnv.New32a()
	h.Write([]byte(p))
	v := h.Sum32()
	return int64(v % 200), v%7 != 0
}

// pend is a change not yet synced: by when it must be (its own queue's
// delay after it was added, ignoring -w), and whether it is instant.
type pend struct {
	deadline time.Time
	instant  bool
}

func (p pend) merge(q pend, ok bool) pend {
	if ok {
		if q.deadline.Before(p.deadline) {
			p.deadline = q.deadline
		}
		p.instant = p.instant || q.instant
	}
	return p
}

// FuzzCoverage drives a Core with random events, clocks, thresholds,
// failures, flushes and rescans, and checks that nothing is lost: every
// path added is covered (equal to, or below a Rescan item of) an item of a
// batch emitted after it was added and not failed. It also checks that no
// merge or collapse delays a change past its own due time, and that Wake
// agrees with Next.
func FuzzCoverage(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 1, 1, 1, 3, 2, 0, 3, 1, 0, 5, 4, 1, 1, 2, 3, 4, 3, 4, 5})
	f.Add([]byte{0, 2, 3, 2, 2, 1, 0, 4, 2, 1, 16, 0, 4, 3, 5, 6, 1, 2, 2, 4, 7, 0, 6})
	f.Add([]byte(strings.Repeat("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b", 30)))
	f.Add([]byte(strings.Repeat("\x02\x11\x23\x35\x47\x59\x6b\x7d\x8f\x91\xa3\xb5\xc7", 40)))
	f.Fuzz(func(t *testing.T, data []byte) {
		in := fuzzInput(data)
		delay := func() time.Duration { return time.Duration(in.byte()%4) * time.Second }
		cfg := Config{
			CollectDelay:     delay(),
			BigFileDelay:     delay(),
			SyncDelay:        delay(),
			BigFileThreshold: int64(in.byte()%3) * 50,
			MaxItems:         2 + int(in.byte()%30),
			CollapseChildren: 1 + int(in.byte()%5),
			Stat:             fuzzSize,
		}
		c := NewCore(cfg)
		now := t0
		pending := map[string]pend{}
		inflight := map[string]bool{}
		busy, started := false, false
		var lastStart time.Time
		var running Batch

		mark := func(p string, d pend) {
			old, ok := pending[p]
			pending[p] = d.merge(old, ok)
		}
		// take checks a batch and moves the pending paths it covers in
		// flight; if all, every pending path must be covered, otherwise
		// the ones that are due.
		take := func(b Batch, all bool) {
			t.Helper()
			if len(b.Items) == 0 {
				t.Fatal("empty batch")
			}
			for i, it := range b.Items {
				if i > 0 && b.Items[i-1].Path >= it.Path {
					t.Fatalf("items not sorted or not unique: %s", formatBatch(b))
				}
				for _, o := range b.Items {
					if o.Path != it.Path && covers(o, it.Path) {
						t.Fatalf("%q emitted with %q that covers it", it.Path, o.Path)
					}
				}
			}
			gateOK := !started || !now.Before(lastStart.Add(cfg.SyncDelay))
			for p, d := range pending {
				covered := false
				for _, it := range b.Items {
					if covers(it, p) {
						covered = true
						break
					}
				}
				mustBe := all || d.instant || gateOK && !now.Before(d.deadline)
				if mustBe && !covered {
					t.Fatalf("at %v: %q due at %v (instant %v) not in %s", now.Sub(t0), p, d.deadline.Sub(t0), d.instant, formatBatch(b))
				}
				if covered {
					delete(pending, p)
					inflight[p] = true
				}
			}
			busy, started, lastStart, running = true, true, now, b
		}
		next := func() {
			t.Helper()
			wake, wok := c.Wake(now)
			b, ok := c.Next(now)
			if busy {
				if ok || wok {
					t.Fatal("Next or Wake during a run")
				}
				return
			}
			if want := wok && !wake.After(now); ok != want {
				t.Fatalf("at %v: Wake says %v (%v), Next says %v", now.Sub(t0), wake.Sub(t0), wok, ok)
			}
			if ok {
				take(b, false)
				return
			}
			gateOK := !started || !now.Before(lastStart.Add(cfg.SyncDelay))
			for p, d := range pending {
				if d.instant || gateOK && !now.Before(d.deadline) {
					t.Fatalf("at %v: %q due at %v (instant %v) but Next returns nothing", now.Sub(t0), p, d.deadline.Sub(t0), d.instant)
				}
			}
		}
		finish := func(ok bool) {
			if !busy {
				return
			}
			c.Done()
			busy = false
			if !ok {
				c.Requeue(running.Items, now)
				for p := range inflight {
					mark(p, pend{deadline: now})
				}
			}
			clear(inflight)
		}
		comps := []string{"a", "b", "c"}

		for len(in) > 0 {
			switch in.byte() % 8 {
			case 0, 1, 2:
				evs := make([]event.Event, 1+in.byte()%4)
				for i := range evs {
					parts := make([]string, in.byte()%4)
					for j := range parts {
						parts[j] = comps[in.byte()%3]
					}
					b := in.byte()
					ev := event.Event{
						Path:  strings.Join(parts, "/"),
						Op:    event.Op(1 << (b % 5)),
						IsDir: b&0x80 != 0,
						Mask:  uint32(b),
					}
					if b&0x40 != 0 {
						ev.Op |= event.Op(1 << (b >> 3 % 5))
					}
					evs[i] = ev
					d := cfg.CollectDelay
					if size, ok := fuzzSize(ev.Path); ok && size > cfg.BigFileThreshold && cfg.BigFileThreshold > 0 &&
						!ev.IsDir && ev.Op&(event.Remove|event.Rescan) == 0 {
						d = cfg.BigFileDelay
					}
					mark(ev.Path, pend{deadline: now.Add(d)})
				}
				c.Add(evs, now)
			case 3:
				now = now.Add(time.Duration(in.byte()%5) * 500 * time.Millisecond)
			case 4:
				next()
			case 5:
				finish(true)
			case 6:
				finish(false)
			case 7:
				if in.byte()%2 == 0 {
					if b, ok := c.Flush(now); ok {
						take(b, true)
					} else if !busy && len(pending) > 0 {
						t.Fatal("Flush returned nothing with changes pending")
					}
				} else {
					c.Rescan(now)
					mark("", pend{deadline: now, instant: true})
				}
			}
			checkInvariants(t, c)
		}

		// Let the clock run: Wake must lead Next to everything left.
		finish(true)
		for i := 0; c.Len() > 0; i++ {
			if i > 10 {
				t.Fatalf("still %d queued after %d runs", c.Len(), i)
			}
			w, ok := c.Wake(now)
			if !ok {
				t.Fatalf("%d queued but no wake", c.Len())
			}
			if w.After(now) {
				now = w
			}
			next()
			if !busy {
				t.Fatalf("at %v: Wake said %v, Next returned nothing", now.Sub(t0), w.Sub(t0))
			}
			finish(true)
			checkInvariants(t, c)
		}
		if len(pending) > 0 {
			t.Fatalf("lost: %v", pending)
		}
	})
}
