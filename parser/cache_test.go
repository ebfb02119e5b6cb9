package parser

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/tuskcompose/composer/internal/randedit"
)

// TestCacheParsesAsWithout: a file parsed with the cache of its previous
// version gives the tree (positions included), the problems and the
// streaming of a parse without a cache, over random edits of every
// corpus file and of a big platform; and the cache is used.
func TestCacheParsesAsWithout(t *testing.T) {
	files, sources := randedit.Corpus(t)
	var big strings.Builder
	big.WriteString("[services]\n")
	for i := range 2000 {
		fmt.Fprintf(&big, "svc%d { kind: \"http\", instances: [\"http://127.0.0.1:%d\"], routes: [\"/svc%d\"], retries: %d }\n", i, 7000+i, i, i%3)
	}
	big.WriteString("[events]\n$x: 1 + 2\nbus: \"embedded\"\n")
	sources = append(sources, big.String())
	// Every corpus file in one, many times: a file of many blocks of
	// tokens (see relex.go) in every syntax.
	var corpus strings.Builder
	for corpus.Len() < 60_000 {
		for _, src := range sources[:len(files)] {
			corpus.WriteString(src)
			corpus.WriteString("\n")
		}
	}
	sources = append(sources, corpus.String())
	// A problem at the end of input, reported at the last line.
	sources = append(sources, big.String()+"\n\nlast:\n")
	rng := rand.New(rand.NewPCG(1, 2))
	edits := []string{" ", "a", "\n", "1", "\"", "{", "}", "x: 2\n", "#c\n"}
	c := NewCache()
	var hits0 int64
	for n, src := range sources {
		name := fmt.Sprintf("f%d.tsk", n)
		ParsePiecesCached(name, []byte(src), nil, c)
		steps := 12
		if len(src) > 50_000 {
			steps = 12
		}
		for range steps {
			src = randedit.Edit(rng, src, edits)
			got, gotDiags, gotStreamed := ParsePiecesCached(name, []byte(src), nil, c)
			want, wantDiags, wantStreamed := ParsePieces(name, []byte(src), nil)
			if !reflect.DeepEqual(got.Items, want.Items) || !reflect.DeepEqual(got.Comments, want.Comments) || !reflect.DeepEqual(gotDiags, wantDiags) || gotStreamed != wantStreamed {
				a, _ := json.Marshal(got.Items)
				b, _ := json.Marshal(want.Items)
				i := 0
				for i < len(a) && i < len(b) && a[i] == b[i] {
					i++
				}
				t.Fatalf("%s after an edit: the cached parse differs from the uncached one (diags %v / %v, streamed %v/%v)\ncached:   %.300s\nuncached: %.300s", name,
					gotDiags, wantDiags, gotStreamed, wantStreamed, a[max(0, i-150):], b[max(0, i-150):])
			}
		}
	}
	if c.hits.Load() == hits0 {
		t.Error("the cache was never used")
	}
	if c.kept.Load() == 0 {
		t.Error("no block of tokens was taken from the last lexing")
	}
	t.Logf("%d pieces and %d blocks of tokens taken from the cache", c.hits.Load(), c.kept.Load())
}
