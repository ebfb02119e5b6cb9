package lsp

import (
	"os"
	"testing"
)

// FuzzDocument: whatever an editor sends as a document, the outline,
// completion, hover, symbols and position conversions answer without
// failing, at every point of it.
func FuzzDocument(f *testing.F) {
	for _, name := range []string{"testdata/platform.tsk", "testdata/more.tsk"} {
		b, _ := os.ReadFile(name)
		f.Add(string(b), 10)
	}
	f.Add("[services]\nusers { cors { allow_origins: [\"*\"", 30)
	f.Add("a >\n b: <<<X\n\"\"\"\n<\n$v: ${", 7)
	f.Fuzz(func(t *testing.T, src string, at int) {
		o := scan(src)
		tx := newText(src)
		if at < 0 {
			at = -at
		}
		off := at % (len(src) + 1)
		complete(src, o, off)
		hoverAt(tx, o, off)
		symbolsOf(tx, o)
		if got := tx.offset(tx.position(off)); got > len(src) {
			t.Fatalf("offset %d past the end", got)
		}
		targetAt(file{"f.tsk", tx, o}, off)
	})
}
