//go:build linux

package watcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The kernel limits (watches, instances) and permissions are tested for real
// in a child process of this test binary running in a new user namespace:
// /proc/sys/user/max_inotify_* there limits only that namespace, so the test
// never lowers a limit that other processes on the machine depend on. Inside,
// uid 0 maps to the host's root, so files owned by another uid (unmapped in
// the namespace) are out of reach of its capabilities: a real EACCES.

const (
	helperEnv     = "WATCHER_TEST_HELPER"
	helperRootEnv = "WATCHER_TEST_ROOT"
	helperArgEnv  = "WATCHER_TEST_ARG"
	helperSkip    = 3 // exit code: the scenario could not be set up
)

// helperResult is what a helper prints on stdout as JSON.
type helperResult struct {
	NewErr     string // from New
	RunErr     string // from Err after Events closed
	Permission bool   // errors.Is(err, fs.ErrPermission)
	NoSpace    bool   // errors.Is(err, unix.ENOSPC)
	TooMany    bool   // errors.Is(err, unix.EMFILE)
}

func runHelper(scenario string) int {
	root := os.Getenv(helperRootEnv)
	arg := os.Getenv(helperArgEnv)
	var res helperResult
	note := func(err error) string {
		if err == nil {
			return ""
		}
		res.Permission = res.Permission || errors.Is(err, fs.ErrPermission)
		res.NoSpace = res.NoSpace || errors.Is(err, unix.ENOSPC)
		res.TooMany = res.TooMany || errors.Is(err, unix.EMFILE)
		return err.Error()
	}
	setLimit := func(name string) bool {
		if err := os.WriteFile("/proc/sys/user/"+name, []byte(arg), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "set %s: %v\n", name, err)
			return false
		}
		return true
	}
	switch scenario {
	case "enospc":
		if !setLimit("max_inotify_watches") {
			return helperSkip
		}
		w, err := New(context.Background(), Options{Root: root})
		res.NewErr = note(err)
		if w != nil {
			w.Close()
		}
	case "enospc-runtime":
		if !setLimit("max_inotify_watches") {
			return helperSkip
		}
		w, err := New(context.Background(), Options{Root: root})
		res.NewErr = note(err)
		if w == nil {
			break
		}
		for i := range 3 {
			if err := os.Mkdir(filepath.Join(root, fmt.Sprintf("new%d", i)), 0o755); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		timeout := time.After(waitTimeout)
	drain:
		for {
			select {
			case _, ok := <-w.Events():
				if !ok {
					break drain
				}
			case <-timeout:
				w.Close()
				break drain
			}
		}
		res.RunErr = note(w.Err())
		w.Close()
	case "emfile":
		if !setLimit("max_inotify_instances") {
			return helperSkip
		}
		w, err := New(context.Background(), Options{Root: root})
		res.NewErr = note(err)
		if w != nil {
			w.Close()
		}
	case "eacces":
		w, err := New(context.Background(), Options{Root: root})
		res.NewErr = note(err)
		if w != nil {
			w.Close()
		}
	default:
		fmt.Fprintf(os.Stderr, "unknown helper scenario %q\n", scenario)
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		return 1
	}
	return 0
}

// runInUserns runs a helper scenario in a new user namespace and returns its
// result; it skips the test when that is not possible here.
func runInUserns(t *testing.T, scenario, root, arg string) helperResult {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root to map uid 0 into a user namespace")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+scenario, helperRootEnv+"="+root, helperArgEnv+"="+arg)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == helperSkip {
		t.Skipf("helper %s could not set up: %s", scenario, stderr.String())
	}
	if err != nil {
		if strings.Contains(err.Error(), "operation not permitted") || strings.Contains(err.Error(), "invalid argument") {
			t.Skipf("cannot start a process in a user namespace: %v", err)
		}
		t.Fatalf("helper %s: %v\nstderr:\n%s", scenario, err, stderr.String())
	}
	var res helperResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("helper %s output %q: %v", scenario, out, err)
	}
	return res
}

func makeTree(t *testing.T, root string, dirs int) {
	t.Helper()
	for i := range dirs {
		mkdirAll(t, filepath.Join(root, fmt.Sprintf("d%02d", i)))
	}
}

// Pitfall 8: ENOSPC during New names the sysctl and the watches needed.
func TestWatchLimitENOSPC(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, 20) // 21 watches needed
	res := runInUserns(t, "enospc", root, "5")
	if !res.NoSpace {
		t.Fatalf("New error %q does not unwrap to ENOSPC", res.NewErr)
	}
	for _, want := range []string{"inotify watch limit reached", "user.max_inotify_watches=5", "needs at least 21",
		"raise it with sysctl user.max_inotify_watches=26"} {
		if !strings.Contains(res.NewErr, want) {
			t.Errorf("New error %q lacks %q", res.NewErr, want)
		}
	}
	if !strings.HasPrefix(res.NewErr, "watch "+root+"/d") {
		t.Errorf("New error %q does not start with the failing path", res.NewErr)
	}
}

// Pitfall 8: ENOSPC for a new directory at run time is fatal.
func TestWatchLimitENOSPCAtRunTime(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, 2)
	res := runInUserns(t, "enospc-runtime", root, "4")
	if res.NewErr != "" {
		t.Fatalf("New: %s", res.NewErr)
	}
	if !res.NoSpace || !strings.Contains(res.RunErr, "user.max_inotify_watches=4") {
		t.Errorf("Err() = %q, want ENOSPC naming the limit", res.RunErr)
	}
}

// Pitfall 8: EACCES is never skipped; it names the path and unwraps to
// fs.ErrPermission.
func TestPermissionDenied(t *testing.T) {
	root := t.TempDir()
	locked := filepath.Join(root, "ok", "locked")
	mkdirAll(t, locked)
	// An owner that is not mapped into the helper's namespace, where its
	// capabilities then do not apply.
	if err := os.Chown(locked, 54321, 54321); err != nil {
		t.Skipf("chown: %v", err)
	}
	if err := os.Chmod(locked, 0o700); err != nil {
		t.Fatal(err)
	}
	res := runInUserns(t, "eacces", root, "")
	if !res.Permission {
		t.Fatalf("New error %q does not unwrap to fs.ErrPermission", res.NewErr)
	}
	if !strings.Contains(res.NewErr, locked+": permission denied") {
		t.Errorf("New error %q does not name %s", res.NewErr, locked)
	}
}

// inotify_init1's EMFILE names the instance limit.
func TestInstanceLimitEMFILE(t *testing.T) {
	res := runInUserns(t, "emfile", t.TempDir(), "0")
	if !res.TooMany {
		t.Fatalf("New error %q does not unwrap to EMFILE", res.NewErr)
	}
	if !strings.Contains(res.NewErr, "user.max_inotify_instances=0") {
		t.Errorf("New error %q does not name the instance limit", res.NewErr)
	}
}
