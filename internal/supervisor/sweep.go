package supervisor

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// RunEnv is the environment variable that marks every process a composer
// starts, and everything those start in turn, with the composer's run id:
// Sweep finds what a run left behind by it, wherever it went (a
// grandchild of a shell command outlives the parent-death signal of its
// parent, and a daemon leaves the process group).
const RunEnv = "COMPOSER_RUN"

// NewRunID returns a new run id.
func NewRunID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Sweep kills (SIGKILL) every process of this user whose environment
// carries RunEnv with one of the run ids, except the caller, and returns
// how many it killed. It reads /proc; where there is none it does
// nothing.
func Sweep(runIDs ...string) int {
	if len(runIDs) == 0 {
		return 0
	}
	var marks [][]byte
	for _, id := range runIDs {
		if id != "" {
			marks = append(marks, []byte(RunEnv+"="+id+"\x00"))
		}
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	self := os.Getpid()
	killed := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue // gone, or not ours
		}
		env = append(env, 0)
		for _, m := range marks {
			if bytes.HasPrefix(env, m) || bytes.Contains(env, append([]byte{0}, m...)) {
				if syscall.Kill(pid, syscall.SIGKILL) == nil {
					killed++
				}
				break
			}
		}
	}
	return killed
}

// Runs is the file in a data directory that lists the run ids whose
// processes may still be alive (the runs that did not stop cleanly).
type Runs string

// Sweep kills what the listed runs left behind and empties the list.
func (f Runs) Sweep() int {
	b, err := os.ReadFile(string(f))
	if err != nil {
		return 0
	}
	n := Sweep(strings.Fields(string(b))...)
	os.WriteFile(string(f), nil, 0o600)
	return n
}

// Add records a run id.
func (f Runs) Add(id string) error {
	fh, err := os.OpenFile(string(f), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = fh.WriteString(id + "\n")
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	return err
}

// Remove drops a run id (its run stopped cleanly).
func (f Runs) Remove(id string) {
	b, err := os.ReadFile(string(f))
	if err != nil {
		return
	}
	var keep []string
	for _, x := range strings.Fields(string(b)) {
		if x != id {
			keep = append(keep, x)
		}
	}
	out := strings.Join(keep, "\n")
	if out != "" {
		out += "\n"
	}
	os.WriteFile(string(f), []byte(out), 0o600)
}
