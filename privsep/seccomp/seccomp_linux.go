//go:build linux && cgo

package seccomp

import (
	"errors"
	"fmt"
	"os"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// minAPI is the libseccomp API level the filter needs: level 2 brings TSYNC
// (without it libseccomp would silently filter only the calling thread) and
// level 4 SECCOMP_RET_KILL_PROCESS for calls of a foreign architecture.
const minAPI = 4

// allowed is the worker's allow-list: the calls it may make with any
// arguments. Calls allowed only with some arguments are in argRules. To tune
// the list from an strace of the worker, add or remove a name on its line.
func allowed() []string {
	return []string{
		// Go runtime and glibc, memory: mmap and mprotect are in argRules.
		"munmap", "madvise", "brk", "mincore",
		// Go runtime, threads and scheduling (clone is in argRules; the
		// runtime re-reads the affinity mask for GOMAXPROCS).
		"futex", "sched_yield", "nanosleep", "clock_nanosleep", "gettid", "getpid", "getppid", "sched_getaffinity",
		// Go runtime, signals (kill and tgkill are in argRules).
		"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
		// Thread and process exit, and the restart of an interrupted call.
		"exit", "exit_group", "restart_syscall",
		// Go runtime, network poller (also used for pipes and sockets).
		"epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_pwait2", "eventfd2",
		// Time (normally the vDSO) and randomness (map seeds, crypto/rand).
		"clock_gettime", "getrandom",
		// glibc's pthread_create in cgo builds, in each new thread.
		"rseq", "set_robust_list",

		// Worker: reading and writing descriptors (inotify events are read).
		"read", "write", "readv", "writev", "pread64", "pwrite64", "lseek", "close", "fcntl", "dup", "dup3", "pipe2",
		// Worker: waiting on descriptors outside the poller.
		"poll", "ppoll", "pselect6",
		// Worker: the SOCK_SEQPACKET socket to the privileged helper, fds by SCM_RIGHTS.
		"recvmsg", "sendmsg", "recvfrom", "sendto", "shutdown",
		// Worker: the clients of the control socket the helper passed (-s).
		"accept4",
		// Worker: files it may reach (Landlock and the uid decide which); no
		// mkdirat, symlinkat, linkat, mknodat or chown: the helper passes
		// the directories the worker writes in.
		"openat", "getdents64", "fstat", "newfstatat", "statx", "readlinkat", "statfs", "fstatfs",
		"ftruncate", "unlinkat", "renameat", "renameat2", "fchmod", "fchmodat",
		// Worker: its own identity.
		"uname", "getuid", "geteuid", "getgid", "getegid", "getgroups",
	}
}

// argRule allows a call only when its argument arg, ANDed with mask, equals
// value.
type argRule struct {
	name  string
	arg   uint
	mask  uint64
	value uint64
}

// namespaceFlags are clone's flags for new namespaces. CLONE_NEWTIME is not
// among them: clone reads that bit as part of the exit signal.
const namespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET

// argRules are the calls the worker may make with some arguments only. pid
// is the process's own pid.
//
// mmap and mprotect: a cgo build cannot run without mprotect (glibc's
// pthread_create mprotects each new thread stack, and every new Go thread is
// a pthread there), and only cgo builds load filters. So --permit-mprotect
// cannot mean "mprotect at all", as it did in C. What denying mprotect was
// for is keeping injected code from becoming executable, so without
// PermitMprotect both mmap and mprotect are allowed without PROT_EXEC only
// (neither Go nor glibc needs executable memory after start-up), and with it
// they are allowed as they are.
func argRules(pid int, permitMprotect bool) []argRule {
	rules := []argRule{
		// New threads only: Go's newosproc and glibc's pthread_create set
		// CLONE_THREAD; no new process (the worker never forks or execs)
		// and no new namespace.
		{name: "clone", arg: 0, mask: unix.CLONE_THREAD | namespaceFlags, value: unix.CLONE_THREAD},
		// Signals to our own process only: the runtime's raiseproc uses
		// kill(getpid()), its preemption signals and glibc's setxid
		// broadcast use tgkill(getpid(), tid). pid_t is an int: compare
		// the low 32 bits, as the kernel reads them.
		{name: "kill", arg: 0, mask: 0xffffffff, value: uint64(pid)},
		{name: "tgkill", arg: 0, mask: 0xffffffff, value: uint64(pid)},
		// The watcher's Quiesce asks how much the inotify queue holds
		// (FIONREAD); no other ioctl.
		{name: "ioctl", arg: 1, mask: 0xffffffff, value: unix.TIOCINQ},
		// Go 1.25+ names its anonymous mappings; it ignores a refusal.
		{name: "prctl", arg: 0, mask: 0xffffffff, value: unix.PR_SET_VMA},
	}
	if !permitMprotect {
		rules = append(rules,
			argRule{name: "mmap", arg: 2, mask: unix.PROT_EXEC, value: 0},
			argRule{name: "mprotect", arg: 2, mask: unix.PROT_EXEC, value: 0})
	}
	return rules
}

// Available is nil when this build and kernel can load a filter, else an
// error for one line of output.
func Available() error {
	api, err := libseccomp.GetAPI()
	if err != nil {
		return fmt.Errorf("--seccomp-filter: libseccomp API level: %w", err)
	}
	if api < minAPI {
		major, minor, micro := libseccomp.GetLibraryVersion()
		return fmt.Errorf("--seccomp-filter: libseccomp %d.%d.%d with this kernel offers API level %d, need %d (seccomp TSYNC and kill-process)",
			major, minor, micro, api, minAPI)
	}
	return nil
}

// Load installs the worker's allow-list on every thread of the process
// (TSYNC) with no_new_privs: architecture checked (other arch / x32 -> kill
// process), denied calls fail with EPERM, clone3 fails with ENOSYS (so glibc's
// pthread_create falls back to clone), clone only with CLONE_THREAD set,
// kill/tgkill only with arg0 == our own pid (tgkill's tgid) so the runtime's
// preemption signals work but nothing else is signalled.
//
// Names in o.Extra are allowed with any arguments, also those that have
// argument rules here. A name libseccomp knows but this architecture lacks
// (poll on arm64) is skipped: nothing can call it.
func Load(o Options) error {
	if err := Available(); err != nil {
		return err
	}
	// EPERM rather than a signal: a denied call is an error the worker
	// reports, not a crash, and Go handles EPERM where seccomp is common
	// (copy_file_range, pidfd_open).
	f, err := libseccomp.NewFilter(libseccomp.ActErrno.SetReturnCode(int16(unix.EPERM)))
	if err != nil {
		return fmt.Errorf("seccomp: new filter: %w", err)
	}
	defer f.Release()
	// libseccomp also sends x32 calls on x86_64 to the bad-arch action.
	if err := f.SetBadArchAction(libseccomp.ActKillProcess); err != nil {
		return fmt.Errorf("seccomp: set bad-arch action: %w", err)
	}
	if err := f.SetNoNewPrivsBit(true); err != nil {
		return fmt.Errorf("seccomp: set no_new_privs: %w", err)
	}

	unconditional := make(map[string]bool)
	names := append(allowed(), o.Extra...)
	if o.PermitMprotect {
		names = append(names, "mmap", "mprotect")
	}
	for _, name := range names {
		if unconditional[name] {
			continue
		}
		unconditional[name] = true
		if err := addRule(f, name, libseccomp.ActAllow, nil); err != nil {
			return err
		}
	}
	for _, r := range argRules(os.Getpid(), o.PermitMprotect) {
		if unconditional[r.name] {
			continue
		}
		cond, err := libseccomp.MakeCondition(r.arg, libseccomp.CompareMaskedEqual, r.mask, r.value)
		if err != nil {
			return fmt.Errorf("seccomp: condition for %s: %w", r.name, err)
		}
		if err := addRule(f, r.name, libseccomp.ActAllow, []libseccomp.ScmpCondition{cond}); err != nil {
			return err
		}
	}
	// glibc's pthread_create tries clone3 first and falls back to clone
	// only on ENOSYS; clone3's flags are in memory, out of a filter's reach.
	if !unconditional["clone3"] {
		if err := addRule(f, "clone3", libseccomp.ActErrno.SetReturnCode(int16(unix.ENOSYS)), nil); err != nil {
			return err
		}
	}

	if err := f.Load(); err != nil {
		return fmt.Errorf("seccomp: load filter: %w", err)
	}
	return nil
}

// addRule adds one rule for the call name.
func addRule(f *libseccomp.ScmpFilter, name string, act libseccomp.ScmpAction, conds []libseccomp.ScmpCondition) error {
	call, err := libseccomp.GetSyscallFromName(name)
	if errors.Is(err, libseccomp.ErrSyscallDoesNotExist) {
		return fmt.Errorf("seccomp: unknown system call %q", name)
	}
	if err != nil {
		return fmt.Errorf("seccomp: resolve %q: %w", name, err)
	}
	if call < 0 {
		// libseccomp's number for a call of other architectures only.
		return nil
	}
	if len(conds) == 0 {
		err = f.AddRule(call, act)
	} else {
		err = f.AddRuleConditional(call, act, conds)
	}
	if err != nil {
		return fmt.Errorf("seccomp: add rule for %s: %w", name, err)
	}
	return nil
}
