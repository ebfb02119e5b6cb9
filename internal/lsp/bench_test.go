package lsp

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	protocol "github.com/tliron/glsp/protocol_3_16"
)

// bigPlatform is a valid platform file of about size bytes: http
// services with routes, calls and per-service breakers, and event routes.
func bigPlatform(size int) string {
	var b strings.Builder
	b.WriteString("[composer]\nname: \"big\"\nlisten: \"127.0.0.1:8080\"\n\n[services]\n")
	n := 0
	for b.Len() < size*9/10 {
		fmt.Fprintf(&b, "svc%d { kind: \"http\", instances: [\"http://127.0.0.1:%d\"], routes: [\"/svc%d\", \"/svc%d/:id\"], timeout: \"2s\", retries: 2, calls: [\"svc%d\"] }\n",
			n, 10000+n%50000, n, n, max(n-1, 0))
		n++
	}
	b.WriteString("\n[circuit_breaker]\nfailure_threshold: 5\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "svc%d { recovery_timeout: \"%ds\" }\n", i%n, 10+i%50)
	}
	return b.String()
}

// BenchmarkDiagnosticsAfterEdit: a 1 MiB platform file, one character
// changed near its start, then its diagnostics: the edit applied, the
// file loaded, decoded and validated (the outline is made by the first
// request that needs it: BenchmarkCompletion counts it). "replace"
// changes a digit of a timeout, so nothing moves; "insert" types a digit
// into it and the next run deletes it again, so that everything after it
// moves by one byte along its line; "newline" does the same with a line
// break, so that every later statement moves to another line (the caches
// key a statement by its tree, and a moved tree is a new one; values keep
// no offsets, so only "newline" moves what was made of them). The median
// is reported beside the mean.
//
//	go test ./internal/lsp -run '^$' -bench DiagnosticsAfterEdit -benchtime 20x
func BenchmarkDiagnosticsAfterEdit(b *testing.B) {
	for _, mode := range []string{"replace", "insert", "newline"} {
		b.Run(mode, func(b *testing.B) {
			src := bigPlatform(1 << 20)
			path := filepath.Join(b.TempDir(), "platform.tsk")
			os.WriteFile(path, []byte(src), 0o644)
			s := New()
			d := &document{uri: uriOf(path), path: path}
			d.set(src, utf16)
			s.docs[path] = d
			at := strings.Index(src, `timeout: "2s"`) + len(`timeout: "`)
			if mode == "newline" {
				at -= len(`timeout: "`) // before the key: a line break inside the block
			}
			pos := d.text.position(at)
			b.ReportMetric(float64(len(src))/(1<<20), "MiB")
			s.diagnose(path, d.text.s) // the document as opened
			var took []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				r, txt := protocol.Range{Start: pos, End: protocol.Position{Line: pos.Line, Character: pos.Character + 1}}, fmt.Sprint(2+i%7)
				if mode == "insert" || mode == "newline" {
					r.End, txt = pos, map[string]string{"insert": "1", "newline": "\n"}[mode]
					if i%2 == 1 && mode == "insert" {
						r.End.Character, txt = pos.Character+1, "" // the digit typed the last time
					} else if i%2 == 1 {
						r.End, txt = protocol.Position{Line: pos.Line + 1}, "" // the line break typed the last time
					}
				}
				d.set(d.text.apply(r, txt), utf16)
				byFile, _ := s.diagnose(path, d.text.s)
				if n := len(byFile[path]); n != 0 {
					b.Fatalf("%d diagnostics: %v", n, byFile[path][0])
				}
				took = append(took, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "median-ms")
		})
	}
}

// BenchmarkCompletion: the keys of a service, asked inside a block near
// the end of a 1 MiB platform file just changed: the outline made again
// (the first request after a change does it), then the completion.
func BenchmarkCompletion(b *testing.B) {
	src := bigPlatform(1 << 20)
	off := strings.LastIndex(src, "[circuit_breaker]")
	off = strings.LastIndex(src[:off], "timeout") // inside the last service's block
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if items := complete(src, scan(src), off); len(items) < 10 {
			b.Fatalf("%d items", len(items))
		}
	}
}

// BenchmarkOutline: the outline of a 1 MiB platform file, made again at
// every change.
func BenchmarkOutline(b *testing.B) {
	src := bigPlatform(1 << 20)
	b.SetBytes(int64(len(src)))
	for i := 0; i < b.N; i++ {
		scan(src)
	}
}
