package h1server

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// watcher notices a client that goes away while its request, one without
// a body, is handled: once the request has run for watchAfter, it reads
// the connection (nobody else does then) until the handler returns. A
// byte it reads is the next request's first and is kept for it; an end of
// the connection cancels the request's context, as net/http's server
// does from the start of every request.
//
// arm and disarm are called by the connection's goroutine only, around
// the handler; the timer's goroutine runs fire.
type watcher struct {
	c      *conn
	timer  *time.Timer
	mu     sync.Mutex
	armed  bool               // a handler runs; fire may read
	done   chan struct{}      // closed when fire's read has ended; nil: none began
	cancel context.CancelFunc // the running request's
	gone   bool               // the client closed the connection
}

func (wt *watcher) init(c *conn) { wt.c = c }

// arm starts the wait for the handler's running long.
func (wt *watcher) arm(cancel context.CancelFunc) {
	wt.mu.Lock()
	wt.armed, wt.cancel, wt.done = true, cancel, nil
	wt.mu.Unlock()
	if wt.timer == nil {
		wt.timer = time.AfterFunc(watchAfter, wt.fire)
	} else {
		wt.timer.Reset(watchAfter)
	}
}

// disarm stops the watch, and waits for a read in progress to end. It
// may be called more than once per arm.
func (wt *watcher) disarm() {
	if wt.timer == nil || wt.timer.Stop() {
		wt.mu.Lock()
		wt.armed = false
		wt.mu.Unlock()
		return
	}
	wt.mu.Lock()
	wt.armed = false
	done := wt.done
	wt.done = nil
	wt.mu.Unlock()
	if done != nil {
		wt.c.nc.SetReadDeadline(aLongTimeAgo)
		<-done
		wt.c.nc.SetReadDeadline(time.Time{})
	}
}

var aLongTimeAgo = time.Unix(1, 0)

func (wt *watcher) fire() {
	wt.mu.Lock()
	if !wt.armed {
		wt.mu.Unlock()
		return
	}
	done := make(chan struct{})
	wt.done = done
	cancel := wt.cancel
	wt.mu.Unlock()
	defer close(done)

	var b [1]byte
	n, err := wt.c.nc.Read(b[:])
	if n == 1 {
		// The next request began (pipelined): its first byte is read
		// first. The connection's goroutine reads it only after <-done.
		wt.c.cr.stash, wt.c.cr.stashed = b[0], true
		return
	}
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return
		}
		wt.mu.Lock()
		wt.gone = true
		wt.mu.Unlock()
		cancel()
	}
}
