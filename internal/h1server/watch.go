package h1server

import (
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
// the handler; the timer's goroutine runs fire. A fire that has begun
// belongs to the arm before it: disarm either stops the timer before it
// fires or waits for that fire to end, so that no read of the watch
// outlives its request (one that did would take bytes of the next
// request from under the connection's reader).
type watcher struct {
	c      *conn
	timer  *time.Timer
	active bool          // armed and not yet disarmed (the connection's goroutine's)
	fired  chan struct{} // a token at the end of each fire
	mu     sync.Mutex
	ctx    *requestContext // the running request's
	gone   bool            // the client closed the connection (set by fire, read after disarm)
}

func (wt *watcher) init(c *conn) { wt.c = c }

// arm starts the wait for the handler's running long.
func (wt *watcher) arm(ctx *requestContext) {
	wt.mu.Lock()
	wt.ctx = ctx
	wt.mu.Unlock()
	wt.active = true
	if wt.timer == nil {
		wt.fired = make(chan struct{}, 1)
		wt.timer = time.AfterFunc(wt.c.srv.watchPeriod(), wt.fire)
	} else {
		wt.timer.Reset(wt.c.srv.watchPeriod())
	}
}

// disarm stops the watch and, when it has begun, ends its read and waits
// for it. It may be called more than once per arm.
func (wt *watcher) disarm() {
	if !wt.active {
		return
	}
	wt.active = false
	if wt.timer.Stop() {
		wt.ctx = nil // (fire will not run for this arm, and no fire before it runs still)
		return
	}
	// fire runs, has run, or is about to: a deadline in the past ends its
	// read, or the read it is about to begin.
	wt.c.nc.SetReadDeadline(aLongTimeAgo)
	<-wt.fired
	wt.ctx = nil // (the request's, not kept alive by an idle connection)
	wt.c.nc.SetReadDeadline(time.Time{})
}

var aLongTimeAgo = time.Unix(1, 0)

func (wt *watcher) fire() {
	defer func() { wt.fired <- struct{}{} }()
	wt.mu.Lock()
	ctx := wt.ctx
	wt.mu.Unlock()

	var b [1]byte
	n, err := wt.c.nc.Read(b[:])
	if n == 1 {
		// The next request began (pipelined): its first byte is read
		// first. The connection's goroutine reads it only after disarm.
		wt.c.cr.stash, wt.c.cr.stashed = b[0], true
		return
	}
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return
		}
		wt.gone = true
		ctx.cancel()
	}
}
