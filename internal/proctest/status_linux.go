package proctest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Thread is one task's credentials and confinement from
// /proc/PID/task/TID/status. Uid and Gid are real, effective, saved and
// filesystem ids.
type Thread struct {
	TID                                    int
	Name                                   string
	Uid, Gid                               [4]uint32
	Groups                                 []uint32
	CapInh, CapPrm, CapEff, CapBnd, CapAmb uint64
	NoNewPrivs, Seccomp                    int
}

// Threads reads every thread of process pid. Threads that exit while it
// reads are left out.
func Threads(pid int) ([]Thread, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Thread
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		path := filepath.Join(dir, e.Name(), "status")
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
			continue
		}
		if err != nil {
			return nil, err
		}
		t, err := Parse(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		t.TID = tid
		out = append(out, t)
	}
	return out, nil
}

// required are the fields every kernel that clsync supports prints.
var required = []string{"Name", "Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"}

// Parse reads one /proc/PID/task/TID/status file.
func Parse(data []byte) (Thread, error) {
	var t Thread
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		var err error
		switch key {
		case "Name":
			t.Name = val
		case "Uid":
			err = ids(val, &t.Uid)
		case "Gid":
			err = ids(val, &t.Gid)
		case "Groups":
			for _, f := range strings.Fields(val) {
				g, perr := strconv.ParseUint(f, 10, 32)
				if perr != nil {
					err = perr
					break
				}
				t.Groups = append(t.Groups, uint32(g))
			}
		case "CapInh":
			t.CapInh, err = strconv.ParseUint(val, 16, 64)
		case "CapPrm":
			t.CapPrm, err = strconv.ParseUint(val, 16, 64)
		case "CapEff":
			t.CapEff, err = strconv.ParseUint(val, 16, 64)
		case "CapBnd":
			t.CapBnd, err = strconv.ParseUint(val, 16, 64)
		case "CapAmb":
			t.CapAmb, err = strconv.ParseUint(val, 16, 64)
		case "NoNewPrivs":
			t.NoNewPrivs, err = strconv.Atoi(val)
		case "Seccomp":
			t.Seccomp, err = strconv.Atoi(val)
		default:
			continue
		}
		if err != nil {
			return Thread{}, fmt.Errorf("field %s: %w", key, err)
		}
		seen[key] = true
	}
	for _, key := range required {
		if !seen[key] {
			return Thread{}, fmt.Errorf("no %s field", key)
		}
	}
	return t, nil
}

func ids(val string, dst *[4]uint32) error {
	f := strings.Fields(val)
	if len(f) != len(dst) {
		return fmt.Errorf("want %d ids, got %q", len(dst), val)
	}
	for i, s := range f {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return err
		}
		dst[i] = uint32(n)
	}
	return nil
}
