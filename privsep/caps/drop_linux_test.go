package caps

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"

	"github.com/clsync-go/clsync/internal/proctest"
	"golang.org/x/sys/unix"
)

// childEnv names the case a re-executed test binary runs in
// TestDropChild; Drop cannot be undone, so it runs in a fresh process.
const childEnv = "CLSYNC_CAPS_DROP_CHILD"

var dropCases = map[string]struct {
	creds Creds
	keep  Set
}{
	"nobody": {Creds{UID: 65534, GID: 65534}, Default},
	"root":   {Creds{UID: 0, GID: 0}, 1 << CAP_DAC_READ_SEARCH},
	// Without CAP_SETUID the drop is final.
	"empty": {Creds{UID: 65534, GID: 65534, Groups: []uint32{4242, 4343}}, 0},
}

// childReport is what TestDropChild prints as JSON.
type childReport struct {
	Threads []proctest.Thread
	Locked  []lockedState // one per goroutine locked to its own thread
	Regain  string        // error from setresuid(0, 0, 0), tried last
	Again   string        // error from the same Drop once more
}

type lockedState struct{ TID, KeepCaps int }

func TestDrop(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: Drop changes the uid and capabilities of the process")
	}
	for name, tc := range dropCases {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestDropChild$")
			cmd.Env = append(os.Environ(), childEnv+"="+name)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("child: %v\nstdout: %s\nstderr: %s", err, out, stderr.Bytes())
			}
			var rep childReport
			if err := json.Unmarshal(out, &rep); err != nil {
				t.Fatalf("child output: %v\n%s\nstderr: %s", err, out, stderr.Bytes())
			}
			checkReport(t, rep, tc.creds, tc.keep)
		})
	}
}

func checkReport(t *testing.T, rep childReport, c Creds, keep Set) {
	t.Helper()
	// 8 locked before the drop, 8 after, plus the main thread.
	if len(rep.Threads) < 17 {
		t.Errorf("only %d threads; the test needs many", len(rep.Threads))
	}
	tids := map[int]bool{}
	uid := [4]uint32{c.UID, c.UID, c.UID, c.UID}
	gid := [4]uint32{c.GID, c.GID, c.GID, c.GID}
	for _, th := range rep.Threads {
		tids[th.TID] = true
		if th.Uid != uid || th.Gid != gid || !slices.Equal(th.Groups, c.Groups) {
			t.Errorf("thread %d: Uid %v Gid %v Groups %v; want %v %v %v", th.TID, th.Uid, th.Gid, th.Groups, uid, gid, c.Groups)
		}
		for _, s := range []struct {
			name      string
			got, want uint64
		}{
			{"CapPrm", th.CapPrm, uint64(keep)},
			{"CapEff", th.CapEff, uint64(keep)},
			{"CapBnd", th.CapBnd, uint64(keep)},
			{"CapInh", th.CapInh, 0},
			{"CapAmb", th.CapAmb, 0},
		} {
			if s.got != s.want {
				t.Errorf("thread %d: %s = %v, want %v", th.TID, s.name, Set(s.got), Set(s.want))
			}
		}
	}
	seen := map[int]bool{}
	for _, l := range rep.Locked {
		if seen[l.TID] || !tids[l.TID] {
			t.Errorf("locked goroutine on thread %d: duplicate or not in /proc", l.TID)
		}
		seen[l.TID] = true
		if l.KeepCaps != 0 {
			t.Errorf("thread %d: keepcaps still %d", l.TID, l.KeepCaps)
		}
	}
	if len(rep.Locked) != 16 {
		t.Errorf("%d locked threads reported, want 16", len(rep.Locked))
	}
	// CAP_SETPCAP is gone, so the bounding set cannot shrink again.
	if want := "drop capabilities: bounding set: drop CAP_CHOWN: operation not permitted"; rep.Again != want {
		t.Errorf("second Drop: %q, want %q", rep.Again, want)
	}
	if c.UID != 0 && !keep.Has(CAP_SETUID) && rep.Regain != syscall.EPERM.Error() {
		t.Errorf("setresuid(0) after the drop: %q, want %q", rep.Regain, syscall.EPERM.Error())
	}
}

// TestDropChild is the re-executed half of TestDrop.
func TestDropChild(t *testing.T) {
	name := os.Getenv(childEnv)
	if name == "" {
		t.Skip("runs only when re-executed by TestDrop")
	}
	tc := dropCases[name]
	locked := lockThreads(8)
	if err := Drop(tc.creds, tc.keep, 0); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	locked = append(locked, lockThreads(8)...)
	var rep childReport
	for _, q := range locked {
		reply := make(chan lockedState)
		q <- reply
		rep.Locked = append(rep.Locked, <-reply)
	}
	var err error
	if rep.Threads, err = proctest.Threads(os.Getpid()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	rep.Again = fmt.Sprint(Drop(tc.creds, tc.keep, 0))
	rep.Regain = fmt.Sprint(syscall.Setresuid(0, 0, 0))
	if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
		os.Exit(2)
	}
	os.Exit(0)
}

// lockThreads parks n goroutines, each locked to an OS thread of its own,
// so the process has that many more threads. Each answers requests with
// its thread's id and keepcaps flag.
func lockThreads(n int) []chan chan lockedState {
	var ready sync.WaitGroup
	qs := make([]chan chan lockedState, n)
	for i := range qs {
		qs[i] = make(chan chan lockedState)
		ready.Add(1)
		go func(q chan chan lockedState) {
			runtime.LockOSThread()
			ready.Done()
			for reply := range q {
				kc, _ := unix.PrctlRetInt(unix.PR_GET_KEEPCAPS, 0, 0, 0, 0)
				reply <- lockedState{TID: unix.Gettid(), KeepCaps: kc}
			}
		}(qs[i])
	}
	ready.Wait()
	return qs
}
