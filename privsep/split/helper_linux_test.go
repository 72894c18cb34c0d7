package split

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/clsync-go/clsync/handlers"
)

// hostileEnv names the scenario the test binary plays as a worker.
const hostileEnv = "CLSYNC_TEST_HOSTILE"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == WorkerCommand {
		os.Exit(hostileWorker(os.Getenv(hostileEnv), os.Args[2]))
	}
	os.Exit(m.Run())
}

// hostileWorker connects to the helper, checks that a correct request is
// served, then sends the scenario's request. It exits 0 when everything it
// was answered is as the scenario expects and the helper did not stop it.
func hostileWorker(scenario, root string) int {
	w, err := Connect()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	dfd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open root:", err)
		return 3
	}
	if _, err := w.AddWatch(dfd, "", unix.IN_CREATE); err != nil {
		fmt.Fprintln(os.Stderr, "a correct watch was refused:", err)
		return 3
	}
	raw := func(msg string, fd int) {
		var rights []byte
		if fd >= 0 {
			rights = unix.UnixRights(fd)
		}
		sock := w.sock
		if strings.Contains(msg, `"op":"watch"`) {
			sock = workerWatchFd
		}
		if err := unix.Sendmsg(sock, []byte(msg), rights, nil, 0); err != nil {
			fmt.Fprintln(os.Stderr, "send:", err)
		}
	}
	switch scenario {
	case "symlink":
		// A path through a symlink is what a rename race looks like: the
		// helper refuses it without stopping.
		if _, err := w.AddWatch(dfd, "link", unix.IN_CREATE); !errors.Is(err, unix.ESTALE) {
			fmt.Fprintln(os.Stderr, "watch through a symlink:", err)
			return 4
		}
		if _, err := w.AddWatch(dfd, "sub", unix.IN_CREATE); !errors.Is(err, unix.ESTALE) {
			fmt.Fprintln(os.Stderr, "watch of another directory than the one sent:", err)
			return 4
		}
		return 0
	case "dotdot":
		raw(`{"op":"watch","id":90,"rel":"../..","mask":256}`, dfd)
	case "absolute":
		raw(`{"op":"watch","id":90,"rel":"/etc","mask":256}`, dfd)
	case "inner-dotdot":
		raw(`{"op":"watch","id":90,"rel":"sub/../../etc","mask":256}`, dfd)
	case "dont-follow":
		raw(`{"op":"watch","id":90,"rel":"sub","mask":33554688}`, dfd)
	case "argv":
		raw(`{"op":"exec","id":90,"inv":{"template":"sync"},"argv":["/bin/sh","-c","id"]}`, 2)
	case "template":
		raw(`{"op":"exec","id":90,"inv":{"template":"/bin/sh"}}`, 2)
	case "list-outside":
		raw(`{"op":"exec","id":90,"inv":{"template":"sync","include_list_path":"/etc/shadow"}}`, 2)
	case "env":
		raw(`{"op":"exec","id":90,"inv":{"template":"sync"},"env":["LD_PRELOAD=/tmp/evil.so"]}`, 2)
	case "kill-pid":
		raw(`{"op":"kill","id":90,"pid":1}`, -1)
	case "kill-unknown":
		raw(`{"op":"kill","id":90,"handle":7}`, -1)
	case "unknown-op":
		raw(`{"op":"setuid","id":90}`, -1)
	case "garbage":
		raw("\x00\x01garbage", -1)
	case "missing-fd":
		raw(`{"op":"watch","id":90,"rel":"sub","mask":256}`, -1)
	case "wrong-socket":
		raw(`{"op":"unwatch","id":90,"wd":1}`, -1)
	default:
		fmt.Fprintln(os.Stderr, "unknown scenario", scenario)
		return 3
	}
	// The helper must stop us now.
	time.Sleep(10 * time.Second)
	return 5
}

func serveHostile(t *testing.T, scenario string) (int, error) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the helper starts the worker as another user: needs root")
	}
	parent := t.TempDir()
	os.Chmod(parent, 0o755)
	root := filepath.Join(parent, "tree")
	if err := os.MkdirAll(filepath.Join(root, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	t.Setenv(hostileEnv, scenario)
	signals := make(chan os.Signal)
	start := time.Now()
	code, err := Serve(context.Background(), HelperConfig{
		Argv: []string{root}, Env: os.Environ(), WatchDir: root,
		Handler: handlers.Config{Mode: "shell", Program: "/bin/true", WatchDir: root, Label: "t"},
		Worker:  WorkerIdentity{UID: 65534, GID: 65534, ReadTree: true},
	}, signals)
	if time.Since(start) > 8*time.Second {
		t.Errorf("the helper took %s to stop a hostile worker", time.Since(start))
	}
	return code, err
}

func TestHelperRefusesAndStops(t *testing.T) {
	for _, scenario := range []string{"dotdot", "absolute", "inner-dotdot", "dont-follow", "argv", "template",
		"list-outside", "env", "kill-pid", "kill-unknown", "unknown-op", "garbage", "missing-fd", "wrong-socket"} {
		t.Run(scenario, func(t *testing.T) {
			code, err := serveHostile(t, scenario)
			var perr *ProtocolError
			if !errors.As(err, &perr) {
				t.Fatalf("Serve = %d, %v; want a protocol error", code, err)
			}
			t.Logf("stopped: %v", err)
		})
	}
}

func TestHelperRefusesSymlinkWithoutStopping(t *testing.T) {
	code, err := serveHostile(t, "symlink")
	if err != nil || code != 0 {
		t.Fatalf("Serve = %d, %v; want the worker's own exit 0", code, err)
	}
}

func TestParseRequestRefuses(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		fds  int
		want string
	}{
		{`{"op":"watch","id":1,"rel":"a/./b","mask":2}`, 1, "clean path"},
		{`{"op":"watch","id":1,"rel":"a//b","mask":2}`, 1, "clean path"},
		{`{"op":"watch","id":0,"rel":"a","mask":2}`, 1, "without an id"},
		{`{"op":"watch","id":1,"rel":"a","mask":2}{}`, 1, "after the message"},
		{`{"op":"exec","id":1,"inv":{"template":"sync","type":"rm"}}`, 1, "type"},
		{`{"op":"exec","id":1,"inv":{"template":"sync","event_mask":"1;rm"}}`, 1, "event mask"},
		{`{"op":"exec","id":1,"inv":{"template":"sync","include_list_path":"/l/../etc/x"}}`, 1, "lists dir"},
		{`{"op":"status","id":1,"word":"../../x"}`, 0, "status word"},
		{`{"op":"unwatch","id":1,"wd":-1}`, 0, "wd"},
		{`{"op":"stats","id":1,"stats":[1,2]}`, 0, "no JSON object"},
		{`{"op":"stats","id":1,"stats":{},"syncs":[{"s":-1}]}`, 0, "sync duration"},
		{`{"op":"dump","id":1,"facts":{"../x":"y"}}`, 0, "dump fact"},
		{`{"op":"dump","id":1,"facts":{}}`, 0, "0 facts"},
	} {
		if _, err := parseRequest([]byte(tc.msg), tc.fds, "/l"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error about %q", tc.msg, err, tc.want)
		}
	}
	r, err := parseRequest([]byte(`{"op":"exec","id":3,"inv":{"template":"sync","include_list_path":"/l/.clsync-list.1"},"env":["CLSYNC_STATUS=running","CLSYNC_ITERATION=2"]}`), 1, "/l")
	if err != nil || r.Inv.IncludeListPath != "/l/.clsync-list.1" {
		t.Fatalf("a correct exec: %+v, %v", r, err)
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(`{"op":"watch","id":1,"rel":"a/b","mask":256}`), 1)
	f.Add([]byte(`{"op":"exec","id":2,"inv":{"template":"sync","include_list":["a","b"]},"env":["CLSYNC_ITERATION=1"]}`), 1)
	f.Add([]byte(`{"op":"kill","id":3,"handle":1}`), 0)
	f.Add([]byte(`{"op":"stats","id":4,"stats":{"Events":3},"syncs":[{"s":0.5,"ok":true}]}`), 0)
	f.Add([]byte(`{"op":"dump","id":5,"facts":{"status":"running"}}`), 0)
	f.Fuzz(func(t *testing.T, b []byte, fds int) {
		r, err := parseRequest(b, fds, "/lists")
		if err != nil {
			return
		}
		if r.ID == 0 || fds != fdsOf(r.Op) {
			t.Fatalf("accepted %q with %d fds", b, fds)
		}
		if r.Op == "watch" && (strings.Contains(r.Rel, "..") && !filepath.IsLocal(r.Rel) || filepath.IsAbs(r.Rel)) {
			t.Fatalf("accepted path %q", r.Rel)
		}
		if r.Op == "exec" {
			for _, e := range r.Env {
				if !strings.HasPrefix(e, "CLSYNC_") {
					t.Fatalf("accepted environment %q", e)
				}
			}
		}
	})
}
