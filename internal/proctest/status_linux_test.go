package proctest

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Laid out like /proc/PID/status on this machine's 6.18 kernel, shortened.
const sample = `Name:	clsync worker
Umask:	0022
State:	S (sleeping)
Tgid:	4242
Pid:	4243
Uid:	0	65534	0	65534
Gid:	1	2	3	4
FDSize:	64
Groups:	 
Threads:	5
CapInh:	0000000000000000
CapPrm:	000001fffeffffff
CapEff:	00000000000000e4
CapBnd:	000001fffeffffff
CapAmb:	0000000000000004
NoNewPrivs:	1
Seccomp:	2
Seccomp_filters:	1
`

func TestParseStatus(t *testing.T) {
	got, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	want := Thread{
		Name: "clsync worker",
		Uid:  [4]uint32{0, 65534, 0, 65534}, Gid: [4]uint32{1, 2, 3, 4},
		CapPrm: 0x1fffeffffff, CapEff: 0xe4, CapBnd: 0x1fffeffffff, CapAmb: 4,
		NoNewPrivs: 1, Seccomp: 2,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseStatus = %+v\nwant %+v", got, want)
	}

	got, err = Parse([]byte(strings.Replace(sample, "Groups:\t \n", "Groups:\t0 4 27 65534 \n", 1)))
	if err != nil || !slices.Equal(got.Groups, []uint32{0, 4, 27, 65534}) {
		t.Errorf("groups: %v, %v", got.Groups, err)
	}

	for _, bad := range []string{
		strings.Replace(sample, "CapAmb:\t0000000000000004\n", "", 1),
		strings.Replace(sample, "Uid:\t0\t65534\t0\t65534", "Uid:\t0\t65534", 1),
		strings.Replace(sample, "CapEff:\t00000000000000e4", "CapEff:\tzz", 1),
	} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("no error for\n%s", bad)
		}
	}
}

func TestThreadsSelf(t *testing.T) {
	threads, err := Threads(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	var main *Thread
	for i, th := range threads {
		if th.TID == os.Getpid() {
			main = &threads[i]
		}
		if th.Uid[1] != uint32(os.Geteuid()) || th.Gid[1] != uint32(os.Getegid()) {
			t.Errorf("thread %d: Uid %v Gid %v, want effective %d %d", th.TID, th.Uid, th.Gid, os.Geteuid(), os.Getegid())
		}
	}
	if main == nil {
		t.Fatalf("main thread %d not among %+v", os.Getpid(), threads)
	}
	if main.Name == "" {
		t.Errorf("main thread has no name")
	}
	if _, err := Threads(-1); err == nil {
		t.Errorf("Threads(-1) gave no error")
	}
}
