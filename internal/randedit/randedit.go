// Package randedit makes random edits of a text, as an editor's user
// would: for the tests that compare a cached load with an uncached one
// over a text's successive versions (parser, tsk, composer).
package randedit

import (
	"math/rand/v2"
	"slices"
	"strings"
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
