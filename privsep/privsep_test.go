package privsep

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestHandlerAttrRunsAsIdentity(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing a child's uid needs root")
	}
	cmd := exec.Command("sh", "-c", "id -u; id -g")
	cmd.SysProcAttr = HandlerAttr(Identity{UID: 65534, GID: 65534, SetUID: true, SetGID: true})
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(out)); len(got) != 2 || got[0] != "65534" || got[1] != "65534" {
		t.Fatalf("id printed %q, want 65534 65534", out)
	}
	if !cmd.SysProcAttr.Setpgid {
		t.Error("handler is not in a process group of its own")
	}
}

func TestHandlerAttrKeepsOwnIdentity(t *testing.T) {
	attr := HandlerAttr(Identity{})
	if attr.Credential != nil || !attr.Setpgid {
		t.Fatalf("zero identity: %+v", attr)
	}
}
