package privsep

import (
	"os"
	"strings"
	"testing"
)

func TestHandlerCommandRunsAsIdentity(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing a child's uid needs root")
	}
	cmd := HandlerCommand(Identity{UID: 65534, GID: 65534, SetUID: true, SetGID: true, Groups: []uint32{100}}, []string{"sh", "-c", "id -u; id -g; id -G"})
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(out)); len(got) != 4 || got[0] != "65534" || got[1] != "65534" || got[3] != "100" {
		t.Fatalf("id printed %q, want 65534 65534 and the groups 65534 100", out)
	}
	if !cmd.SysProcAttr.Setpgid {
		t.Error("handler is not in a process group of its own")
	}
}

func TestHandlerCommandKeepsOwnIdentity(t *testing.T) {
	cmd := HandlerCommand(Identity{}, []string{"true"})
	if cmd.SysProcAttr.Credential != nil || !cmd.SysProcAttr.Setpgid || cmd.Args[0] != "true" {
		t.Fatalf("zero identity: %+v", cmd.SysProcAttr)
	}
}
