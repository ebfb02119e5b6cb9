package runner

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch reloads the platform whenever one of its files changes, until ctx
// ends.
//
// What it watches: the directory of every file the platform was loaded
// from (editors save by writing a new file and renaming it), and the
// directories of what each path resolves to through symlinks. Any event
// in them makes it compare each file's identity (what the path resolves
// to, and that file's device, inode, size and modification time) with
// the last one seen, so a change of what a path points to is seen too:
// a Kubernetes ConfigMap volume swaps a `..data` symlink and never
// touches the file's own name, and a bind mount replaces the file under
// it. The files watched follow the last load (an #include added by an
// edit is watched from then on).
//
// When: quiet after the last event (a save is often several events), a
// reload is tried. When the file does not load then (an editor half-way
// through its save), the watcher waits for more events, and reloads for
// good, reporting the errors, once the files have been quiet for
// settle = 20 × quiet (at least 100 ms). Reloads run on a goroutine of
// their own, so the watcher never waits behind one that waits for new
// processes to become healthy.
func (r *Runner) Watch(ctx context.Context, quiet time.Duration) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	settle := max(20*quiet, 100*time.Millisecond)

	type identity struct {
		target         string
		dev, ino, size uint64
		mtime          int64
		missing        bool
	}
	stamp := func(path string) identity {
		id := identity{target: path}
		if t, err := filepath.EvalSymlinks(path); err == nil {
			id.target = t
		}
		fi, err := os.Stat(path)
		if err != nil {
			id.missing = true
			return id
		}
		id.size, id.mtime = uint64(fi.Size()), fi.ModTime().UnixNano()
		id.dev, id.ino = fileID(fi)
		return id
	}
	files := map[string]identity{} // absolute path as loaded -> identity
	dirs := map[string]bool{}
	watchDir := func(dir string) {
		if dirs[dir] {
			return
		}
		if err := w.Add(dir); err != nil {
			r.log.Error("watch", "dir", dir, "err", err)
			return
		}
		dirs[dir] = true
	}
	follow := func() {
		r.statusMu.Lock()
		list := r.status.Files
		r.statusMu.Unlock()
		next := map[string]identity{}
		for _, f := range list {
			abs, err := filepath.Abs(f)
			if err != nil {
				continue
			}
			// A file known already keeps the identity its last event
			// showed: a change made since (its events not read yet) must
			// still compare as a change.
			id, known := files[abs]
			if !known {
				id = stamp(abs)
			}
			next[abs] = id
			watchDir(filepath.Dir(abs))
			watchDir(filepath.Dir(id.target))
		}
		files = next
	}
	// changed reports whether an event in the watched directories changed
	// a file: its own name, or what it resolves to.
	changed := func(ev fsnotify.Event) bool {
		abs, _ := filepath.Abs(ev.Name)
		hit := false
		if _, ok := files[abs]; ok && ev.Op != fsnotify.Chmod {
			hit = true
		}
		for f, old := range files {
			if now := stamp(f); now != old {
				files[f] = now
				hit = true
				if now.target != old.target {
					watchDir(filepath.Dir(now.target))
				}
			}
		}
		return hit
	}

	reloads := make(chan bool, 1) // tentative?
	results := make(chan bool, 1) // loaded?
	go func() {
		for tentative := range reloads {
			_, loaded := r.reload(tentative)
			results <- loaded
		}
	}()
	defer close(reloads)

	follow()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var fire <-chan time.Time
	pending, running := false, false
	var firstFail time.Time // when a tentative reload first failed to load
	schedule := func(d time.Duration) {
		timer.Reset(d)
		fire = timer.C
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if changed(ev) {
				pending = true
				schedule(quiet)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			r.log.Error("watch", "err", err)
		case <-fire:
			fire = nil
			if !pending || running {
				continue // a reload under way picks this up when it ends
			}
			pending, running = false, true
			tentative := firstFail.IsZero() || time.Since(firstFail) < settle
			reloads <- tentative
		case loaded := <-results:
			running = false
			if !loaded {
				if firstFail.IsZero() {
					firstFail = time.Now()
				}
				pending = true
				schedule(settle - time.Since(firstFail))
				continue
			}
			firstFail = time.Time{}
			follow()
			if pending {
				schedule(quiet)
			}
		}
	}
}

// fileID is a file's device and inode.
func fileID(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), st.Ino
	}
	return 0, 0
}
