package tsk

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tuskcompose/composer/parser"
)

// TestLoaderCache: a Loader with a cache loads a file again as without
// one, also one that reads itself with @file.tsk.get while it is
// evaluated (its parse does not wait for itself) and one that includes
// another.
func TestLoaderCache(t *testing.T) {
	dir := t.TempDir()
	self := filepath.Join(dir, "self.tsk")
	os.WriteFile(self, []byte("y: 1\nx: @self.tsk.get(\"y\")\n#include \"more.tsk\"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "more.tsk"), []byte("z: 2\n"), 0o644)
	cached := &Loader{LookupEnv: func(string) (string, bool) { return "", false }, Cache: parser.NewCache()}
	plain := &Loader{LookupEnv: cached.LookupEnv}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 3 {
			a, errA := cached.Load(self)
			b, errB := plain.Load(self)
			if string(a.Root.JSON("")) != string(b.Root.JSON("")) || (errA == nil) != (errB == nil) {
				t.Errorf("with the cache %s (%v), without %s (%v)", a.Root.JSON(""), errA, b.Root.JSON(""), errB)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a load with the cache did not end")
	}
}
