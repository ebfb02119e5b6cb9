package tsk_test

import (
	"sync"
	"testing"

	"github.com/BurntSushi/toml"
	"gopkg.in/yaml.v3"

	"github.com/tuskcompose/composer/internal/gendoc"
	"github.com/tuskcompose/composer/tsk"
)

// benchSizes are the TuskLang sizes of the documents of BenchmarkLoad.
// Each document is generated once, on first use, outside the timers.
var benchSizes = []struct {
	name string
	doc  func() gendoc.Doc
}{
	{"10KiB", sync.OnceValue(func() gendoc.Doc { return gendoc.GenerateSize(10 << 10) })},
	{"1MiB", sync.OnceValue(func() gendoc.Doc { return gendoc.GenerateSize(1 << 20) })},
	{"10MiB", sync.OnceValue(func() gendoc.Doc { return gendoc.GenerateSize(10 << 20) })},
}

// BenchmarkLoad compares loading and evaluating a TuskLang document with
// decoding the same data (see internal/gendoc) from YAML with yaml.v3 and
// from TOML with BurntSushi/toml, both into map[string]any.
//
//	go test ./tsk -run '^$' -bench Load -benchmem -count 3
//
// MB/s is of each format's own source, whose size differs a little from
// the .tsk's: compare ns/op. cpu-ns/op is the CPU time of the whole
// process per operation (all threads: GC workers, parallel parsing), which
// shows how much of the machine a load takes and varies less than ns/op
// when other processes compete for the CPUs.
func BenchmarkLoad(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(size.name, func(b *testing.B) {
			b.Run("tsk", func(b *testing.B) {
				src := size.doc().TSK
				l := &tsk.Loader{}
				benchLoop(b, len(src), func() error {
					_, err := l.LoadBytes("platform.tsk", src)
					return err
				})
			})
			b.Run("yaml", func(b *testing.B) {
				src := size.doc().YAML
				benchLoop(b, len(src), func() error {
					var m map[string]any
					return yaml.Unmarshal(src, &m)
				})
			})
			b.Run("toml", func(b *testing.B) {
				src := string(size.doc().TOML) // toml.Decode takes a string
				benchLoop(b, len(src), func() error {
					var m map[string]any
					_, err := toml.Decode(src, &m)
					return err
				})
			})
		})
	}
}

// benchLoop runs load b.N times on a source of n bytes.
func benchLoop(b *testing.B, n int, load func() error) {
	b.SetBytes(int64(n))
	b.ReportAllocs()
	cpu0, ok := gendoc.CPUTime()
	for b.Loop() {
		if err := load(); err != nil {
			b.Fatal(err)
		}
	}
	if cpu1, ok1 := gendoc.CPUTime(); ok && ok1 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
}
