// Package supervisor starts and watches the processes of `kind: "process"`
// services: one Process per instance, in its own process group, restarted
// by its policy with exponential backoff, stopped with a signal and then
// killed, its output kept line by line.
//
// A process never outlives the composer: it is started with a parent-death
// signal (SIGKILL when the composer dies, however it dies), and stopping
// signals its whole process group.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Spec is what a process service runs. Every instance runs the same spec
// with its own port.
type Spec struct {
	Service string
	Command []string // the program and its arguments; ${PORT} is the instance's port
	Shell   bool     // run the command as one /bin/sh -c script
	Dir     string
	Env     map[string]string // added to the composer's environment; ${PORT} is replaced
	// Restart is no, on-failure (an exit status other than 0, or a
	// signal) or always.
	Restart string
	// MaxRestarts ends the restarts after this many in a row, each
	// within MinUptime of its start (0: 5).
	MaxRestarts int
	// Backoff is the wait before the first restart, doubled for each
	// restart in a row up to 30 s (0: 500 ms).
	Backoff     time.Duration
	StopSignal  syscall.Signal // 0: SIGTERM
	StopTimeout time.Duration  // 0: 10 s; then SIGKILL
	// RunID, when set, is given to the process as RunEnv, for Sweep.
	RunID string
	// Vars are more variables the composer gives the process (the
	// addresses of the services it calls): in its environment, and as
	// ${NAME} in Command and Env, like ${PORT}.
	Vars map[string]string
}

// MinUptime is how long a process must run for its next restart to count
// as the first in a row again.
const MinUptime = 10 * time.Second

// State is where a process is in its life.
type State string

// The states of a process.
const (
	Starting  State = "starting" // started, not yet known to be up
	Running   State = "running"  // running
	Backoff   State = "backoff"  // exited, waiting to be restarted
	Exited    State = "exited"   // exited with status 0 and not restarted
	Failed    State = "failed"   // exited and not restarted (policy, or too many restarts)
	Stopped   State = "stopped"  // stopped by the composer
	StartFail State = "start-failed"
)

// Status is a snapshot of a process.
type Status struct {
	Service  string    `json:"service"`
	Instance int       `json:"instance"`
	Port     int       `json:"port"`
	State    State     `json:"state"`
	PID      int       `json:"pid,omitempty"`
	Restarts int       `json:"restarts"`
	Started  time.Time `json:"started,omitempty"`
	ExitCode int       `json:"exit_code,omitempty"`
	Error    string    `json:"error,omitempty"`
}

// Line is one line of a process's output.
type Line struct {
	Time   time.Time `json:"time"`
	Stream string    `json:"stream"` // stdout | stderr
	Text   string    `json:"text"`
}

// Process is one instance of a process service.
type Process struct {
	spec  Spec
	index int
	port  int
	out   io.Writer // where prefixed lines go (the composer's standard error)
	color string

	mu       sync.Mutex
	status   Status
	cmd      *exec.Cmd
	logs     []Line // the last logLimit lines
	changed  chan struct{}
	stopping bool
	done     chan struct{} // closed when supervision ended
}

const logLimit = 1000

// New returns instance index (from 1) of spec, listening on port. Lines of
// its output go to out, prefixed with `service.index |`, coloured when
// color is an ANSI colour code ("" for none).
func New(spec Spec, index, port int, out io.Writer, color string) *Process {
	return &Process{spec: spec, index: index, port: port, out: out, color: color,
		status:  Status{Service: spec.Service, Instance: index, Port: port, State: Starting},
		changed: make(chan struct{}), done: make(chan struct{})}
}

// Name is `service.index`.
func (p *Process) Name() string { return fmt.Sprintf("%s.%d", p.spec.Service, p.index) }

// Port is the instance's port.
func (p *Process) Port() int { return p.port }

// Spec is what the process runs.
func (p *Process) Spec() Spec { return p.spec }

// Status returns a snapshot.
func (p *Process) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

// Logs returns the last lines of the process's output, oldest first.
func (p *Process) Logs() []Line {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Line(nil), p.logs...)
}

// Changed returns a channel closed at the next change of the status.
func (p *Process) Changed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

func (p *Process) setLocked(f func(*Status)) {
	f(&p.status)
	close(p.changed)
	p.changed = make(chan struct{})
}

// Start runs the process and supervises it (restarts by its policy) until
// Stop. It returns at once.
func (p *Process) Start() {
	go p.supervise()
}

func (p *Process) supervise() {
	defer close(p.done)
	inRow := 0
	wait := p.backoff()
	for {
		started := time.Now()
		err := p.runOnce()
		p.mu.Lock()
		if p.stopping {
			p.setLocked(func(s *Status) { s.State, s.PID = Stopped, 0 })
			p.mu.Unlock()
			return
		}
		code, startErr := exitCode(err)
		failed := code != 0 || startErr != nil
		restart := p.spec.Restart == "always" || p.spec.Restart == "on-failure" && failed
		if time.Since(started) >= MinUptime {
			inRow, wait = 0, p.backoff()
		}
		max := p.spec.MaxRestarts
		if max <= 0 {
			max = 5
		}
		switch {
		case !restart && !failed:
			p.setLocked(func(s *Status) { s.State, s.PID, s.ExitCode = Exited, 0, 0 })
		case !restart:
			p.setLocked(func(s *Status) { s.State, s.PID, s.ExitCode, s.Error = Failed, 0, code, describe(err) })
		case inRow >= max:
			p.setLocked(func(s *Status) {
				s.State, s.PID, s.ExitCode = Failed, 0, code
				s.Error = fmt.Sprintf("%s; not restarted after %d restarts in a row", describe(err), inRow)
			})
		default:
			p.setLocked(func(s *Status) { s.State, s.PID, s.ExitCode, s.Error = Backoff, 0, code, describe(err) })
			p.mu.Unlock()
			p.note("exited (%s); restarting in %s", describe(err), wait)
			if !p.sleep(wait) {
				return
			}
			inRow++
			wait = min(2*wait, 30*time.Second)
			p.mu.Lock()
			p.setLocked(func(s *Status) { s.Restarts++ })
			p.mu.Unlock()
			continue
		}
		p.mu.Unlock()
		if failed {
			p.note("exited (%s); not restarted", describe(err))
		}
		return
	}
}

func (p *Process) backoff() time.Duration {
	if p.spec.Backoff > 0 {
		return p.spec.Backoff
	}
	return 500 * time.Millisecond
}

// sleep waits d, or until Stop; it returns false after Stop (and marks
// the process stopped).
func (p *Process) sleep(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		p.mu.Lock()
		if p.stopping {
			p.setLocked(func(s *Status) { s.State = Stopped })
			p.mu.Unlock()
			return false
		}
		ch := p.changed
		p.mu.Unlock()
		left := time.Until(deadline)
		if left <= 0 {
			return true
		}
		select {
		case <-ch:
		case <-time.After(left):
		}
	}
}

// runOnce starts the command and waits for it to end.
func (p *Process) runOnce() error {
	cmd := p.command()
	stdout, stderr := &lineWriter{p: p, stream: "stdout"}, &lineWriter{p: p, stream: "stderr"}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// A child of the process that keeps its output open does not keep
	// Wait waiting.
	cmd.WaitDelay = time.Second
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		return errStopped
	}
	err := cmd.Start()
	if err != nil {
		p.setLocked(func(s *Status) { s.State, s.Error = StartFail, err.Error() })
		p.mu.Unlock()
		p.note("cannot start: %v", err)
		return &startError{err}
	}
	p.cmd = cmd
	p.setLocked(func(s *Status) { s.State, s.PID, s.Started, s.Error = Running, cmd.Process.Pid, time.Now().UTC(), "" })
	p.mu.Unlock()
	err = cmd.Wait()
	stdout.flush()
	stderr.flush()
	p.mu.Lock()
	p.cmd = nil
	p.mu.Unlock()
	return err
}

var errStopped = errors.New("stopped")

type startError struct{ err error }

func (e *startError) Error() string { return "cannot start: " + e.err.Error() }

// exitCode reads a command's end: its exit status, -1 after a signal.
func exitCode(err error) (int, error) {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		return ee.ExitCode(), nil
	}
	return -1, err
}

func describe(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by " + ws.Signal().String()
		}
		return fmt.Sprintf("exit status %d", ee.ExitCode())
	}
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// command builds the instance's command: ${PORT} and PORT set, its own
// process group, SIGKILL when the composer dies.
func (p *Process) command() *exec.Cmd {
	port := fmt.Sprint(p.port)
	pairs := []string{"${PORT}", port}
	for k, v := range p.spec.Vars {
		pairs = append(pairs, "${"+k+"}", v)
	}
	replacer := strings.NewReplacer(pairs...)
	expand := replacer.Replace
	var cmd *exec.Cmd
	if p.spec.Shell {
		cmd = exec.Command("/bin/sh", "-c", expand(strings.Join(p.spec.Command, " ")))
	} else {
		args := make([]string, len(p.spec.Command))
		for i, a := range p.spec.Command {
			args[i] = expand(a)
		}
		cmd = exec.Command(args[0], args[1:]...)
	}
	cmd.Dir = p.spec.Dir
	cmd.Env = append(os.Environ(), "PORT="+port, fmt.Sprintf("COMPOSER_INSTANCE=%d", p.index))
	for k, v := range p.spec.Vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for k, v := range p.spec.Env {
		cmd.Env = append(cmd.Env, k+"="+expand(v))
	}
	if p.spec.RunID != "" {
		cmd.Env = append(cmd.Env, RunEnv+"="+p.spec.RunID)
	}
	cmd.SysProcAttr = sysProcAttr()
	return cmd
}

// lineWriter splits one output stream of the process into lines.
type lineWriter struct {
	p      *Process
	stream string
	buf    []byte
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			break
		}
		w.p.line(w.stream, strings.TrimSuffix(string(w.buf[:i]), "\r"))
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 64<<10 { // a line that never ends is cut
		w.flush()
	}
	return len(b), nil
}

func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.p.line(w.stream, string(w.buf))
		w.buf = nil
	}
}

// line keeps a line of output and prints it.
func (p *Process) line(stream, text string) {
	p.mu.Lock()
	if len(p.logs) >= logLimit {
		copy(p.logs, p.logs[1:])
		p.logs = p.logs[:logLimit-1]
	}
	p.logs = append(p.logs, Line{Time: time.Now().UTC(), Stream: stream, Text: text})
	p.mu.Unlock()
	p.print(text)
}

// note prints a line of the composer's own about the process.
func (p *Process) note(format string, args ...any) {
	p.print("[composer] " + fmt.Sprintf(format, args...))
}

var printMu sync.Mutex

func (p *Process) print(text string) {
	if p.out == nil {
		return
	}
	prefix := p.Name() + " | "
	if p.color != "" {
		prefix = "\x1b[" + p.color + "m" + prefix + "\x1b[0m"
	}
	printMu.Lock()
	fmt.Fprintln(p.out, prefix+text)
	printMu.Unlock()
}

// Stop ends supervision: the stop signal to the process group, then
// SIGKILL after the stop timeout (or when ctx ends). It returns when the
// process is gone.
func (p *Process) Stop(ctx context.Context) {
	p.mu.Lock()
	p.stopping = true
	cmd := p.cmd
	p.setLocked(func(*Status) {}) // wake a backoff
	p.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		sig := p.spec.StopSignal
		if sig == 0 {
			sig = syscall.SIGTERM
		}
		timeout := p.spec.StopTimeout
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		pgid := cmd.Process.Pid
		syscall.Kill(-pgid, sig)
		select {
		case <-p.done:
		case <-time.After(timeout):
			syscall.Kill(-pgid, syscall.SIGKILL)
		case <-ctx.Done():
			syscall.Kill(-pgid, syscall.SIGKILL)
		}
		<-p.done
		// What the process started in its group and left behind.
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
	<-p.done
}

// Done is closed when supervision has ended (stopped, exited or failed).
func (p *Process) Done() <-chan struct{} { return p.done }
