// Package randedit makes random edits of a text, as an editor's user
// would, and reads the texts they start from: for the tests that compare
// a cached load with an uncached one over a text's successive versions
// (parser, tsk, composer).
package randedit

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Edit returns src changed at random: one of typed typed, a character
// deleted or replaced by one of typed, or a line copied to another place
// (which reopens blocks and sections and moves what follows).
func Edit(rng *rand.Rand, src string, typed []string) string {
	at := rng.IntN(len(src) + 1)
	switch rng.IntN(4) {
	case 0:
		return src[:at] + typed[rng.IntN(len(typed))] + src[at:]
	case 1:
		if at < len(src) {
			return src[:at] + src[at+1:]
		}
	case 2:
		if at < len(src) {
			return src[:at] + typed[rng.IntN(len(typed))] + src[at+1:]
		}
	case 3:
		lines := strings.SplitAfter(src, "\n")
		line := lines[rng.IntN(len(lines))]
		if !strings.HasSuffix(line, "\n") {
			line += "\n"
		}
		to := rng.IntN(len(lines) + 1)
		return strings.Join(slices.Insert(lines, to, line), "")
	}
	return src
}

// Corpus returns the files of the shared TuskLang corpus and their
// texts, the texts the edits start from, for a test of a package one
// folder below the repository's root (the corpus is ../../shared from
// there); it fails the test when the corpus is not there.
func Corpus(tb testing.TB) (files, texts []string) {
	tb.Helper()
	files, _ = filepath.Glob("../../shared/tsk-corpus/*.tsk")
	if len(files) < 20 {
		tb.Fatalf("only %d corpus files", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		texts = append(texts, string(b))
	}
	return files, texts
}
