package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestGrandchildSweptAfterSIGKILL: a shell command that starts a child
// of its own leaves it running when the composer is killed with SIGKILL
// (the parent-death signal reaches only the shell's own process); the
// composer's next start on the same data_dir stops it.
func TestGrandchildSweptAfterSIGKILL(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "composer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	mark := fmt.Sprintf("777.%d", os.Getpid()) // a sleep nobody else runs
	file := filepath.Join(dir, "platform.tsk")
	writePlatform(t, file, fmt.Sprintf(`[composer]
listen: "127.0.0.1:0"
admin: "127.0.0.1:%d"
data_dir: "data"
[services]
worker { kind: "process", shell: true, command: ["sleep %s & exec sleep 778"] }
`, freePort(t), mark))
	comp := startBinary(t, bin, file)
	var grandchild int
	waitFor(t, "the shell's own child running", func() bool {
		grandchild = findProcess("sleep", mark)
		return grandchild > 0
	})
	comp.cmd.Process.Kill()
	<-comp.exited
	if !alive(grandchild) {
		t.Logf("the grandchild %d died with the composer already", grandchild)
	}
	comp = startBinary(t, bin, file)
	waitFor(t, "the grandchild of the killed run stopped", func() bool { return !alive(grandchild) })
	_ = comp
}

// findProcess returns the pid of a process whose command line is args, or 0.
func findProcess(args ...string) int {
	want := []byte{}
	for _, a := range args {
		want = append(append(want, a...), 0)
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil && bytes.Equal(cmdline, want) && alive(pid) {
			return pid
		}
	}
	return 0
}
