package h1server

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// TestRequestContext: a request's context is what
// context.WithCancel(context.Background()) makes, seen from outside:
// Done and Err before and after its end, Done asked for before and after,
// contexts made from it ended with it (with no goroutine each), and
// AfterFunc's functions run once, or not at all when stopped first.
func TestRequestContext(t *testing.T) {
	for _, early := range []bool{true, false} {
		var c requestContext
		var done <-chan struct{}
		if early {
			done = c.Done()
		}
		if c.Err() != nil {
			t.Fatal("Err before the end")
		}
		if _, ok := c.Deadline(); ok || c.Value("k") != nil {
			t.Fatal("a deadline or a value")
		}
		goroutines := runtime.NumGoroutine()
		child, cancelChild := context.WithCancel(&c)
		defer cancelChild()
		timed, cancelTimed := context.WithTimeout(&c, time.Hour)
		defer cancelTimed()
		if n := runtime.NumGoroutine(); n > goroutines {
			t.Fatalf("%d goroutines for two contexts made from a request's", n-goroutines)
		}
		ran := make(chan string, 3)
		context.AfterFunc(&c, func() { ran <- "context.AfterFunc" })
		c.AfterFunc(func() { ran <- "AfterFunc" })
		stop := c.AfterFunc(func() { ran <- "stopped" })
		if !stop() || stop() {
			t.Fatal("stop before the end: want true, then false")
		}

		c.cancel()
		c.cancel() // (once is what counts)
		if !early {
			done = c.Done()
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Done not closed at the end")
		}
		if !errors.Is(c.Err(), context.Canceled) {
			t.Fatalf("Err %v at the end", c.Err())
		}
		for name, ctx := range map[string]context.Context{"WithCancel": child, "WithTimeout": timed} {
			select {
			case <-ctx.Done():
				if !errors.Is(ctx.Err(), context.Canceled) {
					t.Errorf("%s: Err %v", name, ctx.Err())
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: not ended with the request's context", name)
			}
		}
		got := map[string]bool{}
		for range 2 {
			select {
			case name := <-ran:
				got[name] = true
			case <-time.After(5 * time.Second):
				t.Fatalf("after functions that ran: %v", got)
			}
		}
		if !got["AfterFunc"] || !got["context.AfterFunc"] {
			t.Fatalf("after functions that ran: %v", got)
		}
		late := make(chan bool, 1)
		if c.AfterFunc(func() { late <- true })() {
			t.Error("stop after the end reported true")
		}
		<-late // (an AfterFunc after the end runs at once)
		select {
		case name := <-ran:
			t.Fatalf("%s ran", name)
		default:
		}
	}
}
