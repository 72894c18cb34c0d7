package privsep

import (
	"os/exec"
	"runtime"
	"syscall"

	"github.com/clsync-go/clsync/privsep/sandbox"
)

// Start starts cmd so that the kernel kills it (SIGKILL) if the agent dies,
// even by SIGKILL: a handler must not go on writing into the destination
// after the agent that decided the sync is gone. The parent-death signal
// fires when the thread that forked the child exits, and Go ends idle
// threads at will, so the fork happens on a goroutine locked to its thread
// until the child has been waited for (golang/go#27505), or on launcher's
// thread, which lives as long as the agent. The returned channel delivers
// cmd.Wait's result.
func Start(cmd *exec.Cmd, launcher *sandbox.Launcher) (<-chan error, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	setPdeathsig(cmd.SysProcAttr)
	waited := make(chan error, 1)
	if launcher != nil {
		if err := launcher.Run(cmd.Start); err != nil {
			return nil, err
		}
		go func() { waited <- cmd.Wait() }()
		return waited, nil
	}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		waited <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return waited, nil
}
