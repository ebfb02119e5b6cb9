package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"

	"github.com/tuskcompose/composer/composer"
	"github.com/tuskcompose/composer/internal/store"
	"github.com/tuskcompose/composer/services"
	"github.com/tuskcompose/composer/tsk"
)

// rebuildEntities runs `composer events rebuild`: the entities of the
// platform's built-in services (or of one) made again from the event
// store (services.Rebuild), with the composer stopped. At a terminal it
// draws a progress bar on stderr; it prints one line per service.
func rebuildEntities(file, only string, stdout, stderr io.Writer) error {
	model, _, err := composer.LoadResolved(&tsk.Loader{}, file)
	if err != nil {
		return err
	}
	var todo []*services.Descriptor
	for _, name := range services.Builtin {
		s, d := model.Services[name], services.Lookup(name)
		if s == nil || s.Kind != "builtin" || only != "" && name != only {
			continue
		}
		if !d.Projects() && only == "" {
			continue // notifications: nothing to rebuild
		}
		todo = append(todo, d)
	}
	if only != "" && len(todo) == 0 {
		return fmt.Errorf("--service %s: not a built-in service of %s (built-in: %v)", only, file, builtinOf(model))
	}
	events, err := store.OpenWait(filepath.Join(model.Composer.DataDir, "composer.db"), time.Second)
	if err != nil {
		return fmt.Errorf("%w: stop it first", err)
	}
	defer events.Close()
	for _, d := range todo {
		own, err := services.OpenStore(model.Composer.DataDir, events, d)
		if err != nil {
			return err
		}
		var bar *progressbar.ProgressBar
		progress := func(at, last uint64) {}
		if f, ok := stderr.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			progress = func(at, last uint64) {
				if bar == nil {
					bar = progressbar.NewOptions64(int64(last), progressbar.OptionSetWriter(stderr),
						progressbar.OptionSetDescription(d.Name), progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
				}
				bar.Set64(int64(at))
			}
		}
		skipped, err := services.Rebuild(events, own, d, progress)
		if bar != nil {
			bar.Finish()
		}
		counts := entityCounts(own, d)
		own.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", d.Name, err)
		}
		for _, s := range skipped {
			fmt.Fprintf(stderr, "%s: passed over event %s (%s): %v\n", d.Name, s.Event.ID, s.Event.Type, s.Err)
		}
		fmt.Fprintf(stdout, "%s: rebuilt %s from the event store (%d events passed over)\n", d.Name, counts, len(skipped))
	}
	return nil
}

// entityCounts says how many entities of each derived kind st holds.
func entityCounts(st *store.Store, d *services.Descriptor) string {
	out := ""
	for _, kind := range d.Owns.Kinds {
		if slices.Contains(d.Keeps, kind) {
			continue
		}
		n := 0
		st.List(kind, func(uint64, []byte) error { n++; return nil })
		if out != "" {
			out += ", "
		}
		out += fmt.Sprintf("%d %s", n, kind)
	}
	return out
}

func builtinOf(model *composer.Resolved) []string {
	var out []string
	for _, name := range services.Builtin {
		if s := model.Services[name]; s != nil && s.Kind == "builtin" {
			out = append(out, name)
		}
	}
	return out
}
