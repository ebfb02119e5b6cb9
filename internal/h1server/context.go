package h1server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// requestContext is a request's context: it ends when the request does,
// or before, when the client goes away (the watcher), with
// context.Canceled; it has no deadline and no values. It is what
// context.WithCancel(context.Background()) makes, for less: it is
// allocated with the request's answer (requestAlloc), its channel is
// made only when asked for (Done), and its end costs a lock. Contexts
// made from it (WithCancel, WithTimeout, AfterFunc) hear of its end
// through AfterFunc, the context package's hook for contexts of other
// types, without a goroutine of their own.
//
// cancel is called by the connection's goroutine when the request ends
// and by the watcher's; everything else by anyone.
type requestContext struct {
	cancelled atomic.Bool // (Err reads it without the lock)
	mu        sync.Mutex
	done      chan struct{} // made by Done, or closedChan once cancelled
	after     []*afterFunc  // AfterFunc's, not yet run nor stopped
}

// afterFunc is one function of AfterFunc's.
type afterFunc struct{ f func() }

// closedChan is the Done channel of a context cancelled before anyone
// asked for it.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func (c *requestContext) Deadline() (time.Time, bool) { return time.Time{}, false }

func (c *requestContext) Value(any) any { return nil }

func (c *requestContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
	}
	return c.done
}

func (c *requestContext) Err() error {
	if c.cancelled.Load() {
		return context.Canceled
	}
	return nil
}

func (c *requestContext) String() string { return "h1server.requestContext" }

// AfterFunc runs f in its own goroutine once the context is cancelled (at
// once when it is already); stop unregisters f and reports whether it
// did so before f was started, as context.AfterFunc's stop does.
func (c *requestContext) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	if c.cancelled.Load() {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	a := &afterFunc{f: f}
	c.after = append(c.after, a)
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, b := range c.after {
			if b == a {
				c.after = append(c.after[:i], c.after[i+1:]...)
				return true
			}
		}
		return false // started, or stopped before
	}
}

// cancel ends the context, once: its channel closes and AfterFunc's
// functions start.
func (c *requestContext) cancel() {
	if c.cancelled.Load() {
		return
	}
	c.mu.Lock()
	if c.cancelled.Load() {
		c.mu.Unlock()
		return
	}
	c.cancelled.Store(true)
	if c.done == nil {
		c.done = closedChan
	} else {
		close(c.done)
	}
	after := c.after
	c.after = nil
	c.mu.Unlock()
	for _, a := range after {
		go a.f()
	}
}
