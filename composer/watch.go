package composer

import (
	"context"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch reloads the platform whenever one of its files changes, until ctx
// ends. It watches the files' directories, since editors save by writing a
// new file and renaming it; changes are debounced (a save is often several
// events), and a bad edit does not stop the watching: the next good one is
// applied. The files watched follow the last load (an #include added by an
// edit is watched from then on).
func (r *Runner) Watch(ctx context.Context, debounce time.Duration) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	files := map[string]bool{}
	dirs := map[string]bool{}
	follow := func() {
		r.statusMu.Lock()
		list := r.status.Files
		r.statusMu.Unlock()
		files = map[string]bool{}
		for _, f := range list {
			abs, err := filepath.Abs(f)
			if err != nil {
				continue
			}
			files[abs] = true
			if dir := filepath.Dir(abs); !dirs[dir] {
				if err := w.Add(dir); err != nil {
					r.log.Error("watch", "dir", dir, "err", err)
					continue
				}
				dirs[dir] = true
			}
		}
	}
	follow()
	var timer *time.Timer
	var fire <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			abs, _ := filepath.Abs(ev.Name)
			if !files[abs] || ev.Op == fsnotify.Chmod {
				continue
			}
			if timer == nil {
				timer = time.NewTimer(debounce)
			} else {
				timer.Reset(debounce)
			}
			fire = timer.C
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			r.log.Error("watch", "err", err)
		case <-fire:
			fire = nil
			r.Reload()
			follow()
		}
	}
}
