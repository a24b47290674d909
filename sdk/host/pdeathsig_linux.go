package host

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal makes the kernel kill the plugin if hp dies without
// stopping it (SIGKILL, OOM), so no plugin outlives its host.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
