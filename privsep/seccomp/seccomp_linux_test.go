package seccomp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// childEnv names the check a re-executed test binary runs in
// TestFilterChild. A filter cannot be unloaded, so each one is loaded in a
// fresh process.
const childEnv = "CLSYNC_SECCOMP_CHILD"

// runChild runs TestFilterChild in a new process of the test binary with
// check and returns its output and exit status.
func runChild(t *testing.T, check string) (string, syscall.WaitStatus) {
	t.Helper()
	if err := Available(); err != nil {
		t.Skip(err)
	}
	// Not os.Args[0]: it may be relative, and the child runs elsewhere.
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("find the test binary: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, "-test.run=^TestFilterChild$", "-test.v=false")
	cmd.Env = append(os.Environ(), childEnv+"="+check)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("run child: %v", err)
	}
	return string(out), cmd.ProcessState.Sys().(syscall.WaitStatus)
}

// expectOK fails the test unless the child exited 0 after reporting "ok"
// for every name in want and nothing else failed. A SIGSYS, a
// "pthread_create failed" abort or a data race all end in another status.
func expectOK(t *testing.T, out string, ws syscall.WaitStatus, want ...string) {
	t.Helper()
	if !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("child ended with %v, output:\n%s", ws, out)
	}
	if strings.Contains(out, "FAIL") || !strings.Contains(out, "\ndone\n") {
		t.Fatalf("child output:\n%s", out)
	}
	for _, name := range want {
		if !strings.Contains(out, "\nok "+name) {
			t.Errorf("child did not report %q; output:\n%s", name, out)
		}
	}
}

func TestFilterDenies(t *testing.T) {
	out, ws := runChild(t, "deny")
	expectOK(t, out, ws, "mkdir", "socket", "setuid", "kill-other", "kill-self", "tgkill-other",
		"fork-exec", "execve", "prctl", "clone3", "mmap-exec", "mprotect-exec", "mprotect",
		"read-file", "pipe", "sleep", "gc", "threads", "status")
}

func TestFilterPermitMprotectAndExtra(t *testing.T) {
	out, ws := runChild(t, "permit")
	expectOK(t, out, ws, "mkdir", "mmap-exec", "mprotect-exec", "socket", "threads", "status")
}

func TestFilterUnknownExtra(t *testing.T) {
	out, ws := runChild(t, "unknown")
	expectOK(t, out, ws, "unknown")
}

func TestFilterKillsX32(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("x32 exists on amd64 only")
	}
	out, ws := runChild(t, "x32")
	if !ws.Signaled() || ws.Signal() != syscall.SIGSYS || !strings.Contains(out, "loaded") {
		t.Fatalf("child ended with %v, want killed by SIGSYS after loading; output:\n%s", ws, out)
	}
}

// TestFilterChild is the child process of the tests above: it loads a
// filter while threads come and go, then reports each check on a line of
// its own, "ok NAME" or "FAIL NAME: why", and "done".
func TestFilterChild(t *testing.T) {
	check := os.Getenv(childEnv)
	if check == "" {
		return
	}
	// The x32 check dies by a signal: no core file.
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		fmt.Printf("FAIL rlimit: %v\n", err)
		os.Exit(1)
	}
	c := &child{}
	switch check {
	case "deny":
		c.deny()
	case "permit":
		c.permit()
	case "unknown":
		c.unknown()
	case "x32":
		c.x32()
	default:
		c.report("check", fmt.Errorf("unknown check %q", check))
	}
	fmt.Println("\ndone")
	if c.failed {
		os.Exit(1)
	}
	os.Exit(0)
}

// child holds the state of one child process's checks.
type child struct {
	failed bool
}

// report prints the outcome of one check.
func (c *child) report(name string, err error) {
	if err != nil {
		c.failed = true
		fmt.Printf("\nFAIL %s: %v\n", name, err)
		return
	}
	fmt.Printf("\nok %s\n", name)
}

// wantErrno is nil when err is errno.
func wantErrno(err error, errno syscall.Errno) error {
	if !errors.Is(err, errno) {
		return fmt.Errorf("got %v, want %v", err, errno)
	}
	return nil
}

// churn keeps 8 goroutines starting goroutines that lock their thread,
// allocate, collect and exit still locked, so that their thread exits and
// the runtime keeps creating new ones, before and after the filter. It
// records the thread ids in tids until stop is closed.
type churn struct {
	mu   sync.Mutex
	tids map[int]bool
	stop chan struct{}
	wg   sync.WaitGroup
}

// startChurn starts a churn.
func startChurn() *churn {
	ch := &churn{tids: make(map[int]bool), stop: make(chan struct{})}
	for range 8 {
		ch.wg.Go(func() {
			for {
				select {
				case <-ch.stop:
					return
				default:
				}
				tid := make(chan int)
				go func() {
					// Exiting while locked ends the thread.
					runtime.LockOSThread()
					buf := make([]byte, 1<<20)
					buf[len(buf)-1] = 1
					runtime.GC()
					tid <- unix.Gettid()
				}()
				id := <-tid
				ch.mu.Lock()
				ch.tids[id] = true
				ch.mu.Unlock()
			}
		})
	}
	return ch
}

// seen returns a copy of the thread ids recorded so far.
func (ch *churn) seen() map[int]bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	m := make(map[int]bool, len(ch.tids))
	for id := range ch.tids {
		m[id] = true
	}
	return m
}

// newThreads waits until at least n threads not in before have run a
// churn goroutine, then stops the churn.
func (ch *churn) newThreads(before map[int]bool, n int) error {
	defer func() {
		close(ch.stop)
		ch.wg.Wait()
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		fresh := 0
		for id := range ch.seen() {
			if !before[id] {
				fresh++
			}
		}
		if fresh >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d new threads after the filter in 30s, want %d", fresh, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// loadDuringChurn starts the churn, loads the filter with o and returns the
// churn and the threads seen before the load.
func loadDuringChurn(o Options) (*churn, map[int]bool) {
	ch := startChurn()
	time.Sleep(50 * time.Millisecond)
	if err := Load(o); err != nil {
		fmt.Printf("FAIL load: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("\nloaded")
	return ch, ch.seen()
}

func (c *child) deny() {
	dir, err := os.MkdirTemp("", "seccomp")
	if err != nil {
		c.report("setup", err)
		return
	}
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("data"), 0o600); err != nil {
		c.report("setup", err)
		return
	}
	ch, before := loadDuringChurn(Options{})

	c.report("mkdir", wantErrno(os.Mkdir(filepath.Join(dir, "d"), 0o755), syscall.EPERM))
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.Close(fd)
	}
	c.report("socket", wantErrno(err, syscall.EPERM))
	c.report("setuid", wantErrno(syscall.Setuid(0), syscall.EPERM))
	c.report("kill-other", wantErrno(syscall.Kill(1, 0), syscall.EPERM))
	c.report("kill-self", syscall.Kill(os.Getpid(), 0))
	c.report("tgkill-other", wantErrno(unix.Tgkill(1, 1, 0), syscall.EPERM))
	c.report("fork-exec", wantErrno(exec.Command("/bin/true").Run(), syscall.EPERM))
	c.report("execve", wantErrno(syscall.Exec("/bin/true", []string{"true"}, nil), syscall.EPERM))
	_, err = unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)
	c.report("prctl", wantErrno(err, syscall.EPERM))
	// With a null argument the kernel itself would answer EINVAL or EFAULT.
	_, _, errno := syscall.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)
	c.report("clone3", wantErrno(errno, syscall.ENOSYS))
	c.checkExec(syscall.EPERM)

	got, err := os.ReadFile(file)
	if err == nil && string(got) != "data" {
		err = fmt.Errorf("read %q", got)
	}
	c.report("read-file", err)
	c.report("pipe", pipeRoundTrip())
	start := time.Now()
	time.Sleep(20 * time.Millisecond)
	if d := time.Since(start); d < 20*time.Millisecond {
		c.report("sleep", fmt.Errorf("slept %v", d))
	} else {
		c.report("sleep", nil)
	}
	runtime.GC()
	c.report("gc", nil)
	c.report("threads", ch.newThreads(before, 16))
	c.report("status", threadStatus())
}

func (c *child) permit() {
	dir, err := os.MkdirTemp("", "seccomp")
	if err != nil {
		c.report("setup", err)
		return
	}
	// A name twice, and on amd64 a name of other architectures only.
	extra := []string{"mkdirat", "mkdirat"}
	if runtime.GOARCH == "amd64" {
		extra = append(extra, "socketcall")
	}
	ch, before := loadDuringChurn(Options{PermitMprotect: true, Extra: extra})
	c.report("mkdir", os.Mkdir(filepath.Join(dir, "d"), 0o755))
	c.checkExec(0)
	_, err = syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	c.report("socket", wantErrno(err, syscall.EPERM))
	c.report("threads", ch.newThreads(before, 16))
	c.report("status", threadStatus())
}

// checkExec maps a page executable and makes one executable, expecting errno
// (0: success), and checks that mprotect without PROT_EXEC works.
func (c *child) checkExec(errno syscall.Errno) {
	want := func(err error) error {
		if errno == 0 {
			return err
		}
		return wantErrno(err, errno)
	}
	page := os.Getpagesize()
	b, err := syscall.Mmap(-1, 0, page, syscall.PROT_READ|syscall.PROT_EXEC, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err == nil {
		syscall.Munmap(b)
	}
	c.report("mmap-exec", want(err))
	b, err = syscall.Mmap(-1, 0, page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		c.report("mmap", err)
		return
	}
	defer syscall.Munmap(b)
	c.report("mprotect-exec", want(syscall.Mprotect(b, syscall.PROT_READ|syscall.PROT_EXEC)))
	c.report("mprotect", syscall.Mprotect(b, syscall.PROT_READ))
}

func (c *child) unknown() {
	err := Load(Options{Extra: []string{"no_such_call"}})
	if err == nil || !strings.Contains(err.Error(), `"no_such_call"`) {
		c.report("unknown", fmt.Errorf("Load returned %v, want an error naming no_such_call", err))
		return
	}
	status, err := os.ReadFile("/proc/self/status")
	if err == nil && !bytes.Contains(status, []byte("\nSeccomp:\t0\n")) {
		err = errors.New("a filter was loaded after all")
	}
	c.report("unknown", err)
}

func (c *child) x32() {
	if err := Load(Options{}); err != nil {
		c.report("load", err)
		return
	}
	fmt.Println("\nloaded")
	const x32Bit = 0x40000000
	_, _, errno := syscall.RawSyscall(x32Bit|unix.SYS_GETPID, 0, 0, 0)
	c.report("x32", fmt.Errorf("an x32 getpid returned (errno %v) instead of killing the process", errno))
}

// pipeRoundTrip writes to a pipe and reads it back.
func pipeRoundTrip() error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	defer w.Close()
	if _, err := w.Write([]byte("ping")); err != nil {
		return err
	}
	buf := make([]byte, 4)
	if _, err := r.Read(buf); err != nil {
		return err
	}
	if string(buf) != "ping" {
		return fmt.Errorf("read %q", buf)
	}
	return nil
}

// threadStatus checks that every thread of the process is filtered and has
// no_new_privs.
func threadStatus() error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, task := range tasks {
		status, err := os.ReadFile(filepath.Join("/proc/self/task", task.Name(), "status"))
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
			continue // the thread exited meanwhile
		}
		if err != nil {
			return err
		}
		for _, line := range []string{"\nSeccomp:\t2\n", "\nNoNewPrivs:\t1\n"} {
			if !bytes.Contains(status, []byte(line)) {
				return fmt.Errorf("thread %s lacks %q", task.Name(), strings.TrimSpace(line))
			}
		}
	}
	if len(tasks) < 2 {
		return fmt.Errorf("only %d threads", len(tasks))
	}
	return nil
}
