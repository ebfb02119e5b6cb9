package runner

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWatchConfigMapSwap lays the platform out as a Kubernetes ConfigMap
// volume does (platform.tsk -> ..data/platform.tsk, ..data ->
// ..2026_12_01_1) and updates it as the kubelet does: a new timestamped
// directory, a ..data_tmp symlink renamed over ..data, the old directory
// removed. The file's own name never changes.
func TestWatchConfigMapSwap(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	version := func(name, extra string) {
		must(os.Mkdir(filepath.Join(dir, name), 0o755))
		must(os.WriteFile(filepath.Join(dir, name, "platform.tsk"), []byte(platform(dir, extra)), 0o644))
	}
	version("..2026_12_01_1", "")
	must(os.Symlink("..2026_12_01_1", filepath.Join(dir, "..data")))
	must(os.Symlink("..data/platform.tsk", filepath.Join(dir, "platform.tsk")))
	file := filepath.Join(dir, "platform.tsk")
	r := startFile(t, file)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Watch(ctx, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond) // let the watcher start

	version("..2026_12_01_2", "[services]\nnotifications { routes: [] }\n")
	must(os.Symlink("..2026_12_01_2", filepath.Join(dir, "..data_tmp")))
	must(os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	must(os.RemoveAll(filepath.Join(dir, "..2026_12_01_1")))
	eventually(t, "the swapped file applied", func() bool { return r.Status().Generation == 2 })
	if status, _ := call(t, "GET", "http://"+r.GatewayAddr()+"/notifications", ""); status != 404 {
		t.Errorf("notifications after the swap: %d", status)
	}

	// And the next swap, whose target directory the watcher did not know
	// at the start.
	version("..2026_12_01_3", "")
	must(os.Symlink("..2026_12_01_3", filepath.Join(dir, "..data_tmp")))
	must(os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	eventually(t, "the second swap applied", func() bool { return r.Status().Generation == 3 })
}

// TestWatchWaitsForASaveInParts: an editor that writes the file in two
// steps, the first leaving it invalid, gets the second applied and no
// failed reload reported.
func TestWatchWaitsForASaveInParts(t *testing.T) {
	p := startPlatform(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.r.Watch(ctx, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	full := platform(p.dir, "[services]\nnotifications { routes: [] }\n")
	if err := os.WriteFile(p.file, []byte(full[:len(full)-12]), 0o644); err != nil { // "[services]\nnotifications { routes" cut short
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond) // longer than quiet, shorter than settle
	if err := os.WriteFile(p.file, []byte(full), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the whole save applied", func() bool { return p.r.Status().Generation == 2 })
	p.r.statusMu.Lock()
	defer p.r.statusMu.Unlock()
	for _, h := range p.r.history {
		if !h.OK {
			t.Errorf("a failed reload was reported for a save in parts: %v", h.Diagnostics)
		}
	}
}

// TestWatchReportsABadEdit: an edit that stays broken is reported once
// the files have settled.
func TestWatchReportsABadEdit(t *testing.T) {
	p := startPlatform(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.r.Watch(ctx, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	p.rewrite(t, "[services]\nnotifications { routes: [\"/notifications\"\n")
	eventually(t, "the failure reported", func() bool {
		st := p.r.Status()
		return !st.LastReload.OK && len(st.LastReload.Diagnostics) > 0
	})
}
