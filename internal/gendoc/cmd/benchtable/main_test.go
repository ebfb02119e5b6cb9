package main

import (
	"strings"
	"testing"
)

const input = `goos: linux
BenchmarkLoad/1MiB/tsk-2     	       7	 100000000 ns/op	 150000000 cpu-ns/op	   6.30 MB/s	239175331 B/op	 2316978 allocs/op
BenchmarkLoad/1MiB/yaml-2    	      12	  50000000 ns/op	  60000000 cpu-ns/op	  12.24 MB/s	31037937 B/op	  648861 allocs/op
BenchmarkLoad/1MiB/toml-2    	      16	  80000000 ns/op	  13.44 MB/s	43034326 B/op	  387117 allocs/op
BenchmarkLoad/1MiB/tsk-2     	       7	 120000000 ns/op	 200000000 cpu-ns/op	   6.00 MB/s	239175331 B/op	 2316978 allocs/op
BenchmarkLoad/1MiB/tsk-2     	       7	  90000000 ns/op	   7.00 MB/s	239175331 B/op	 2316978 allocs/op
BenchmarkLoad/10MiB/tsk-2    	       1	1050000000 ns/op	   6.30 MB/s	2391753310 B/op	23169780 allocs/op
BenchmarkLoad/10MiB/yaml-2   	       1	 600000000 ns/op	  12.24 MB/s	310379370 B/op	 6488610 allocs/op
PASS
`

func TestParseAndTable(t *testing.T) {
	res, failed, err := parse(strings.NewReader(input))
	if err != nil || failed {
		t.Fatal(err, failed)
	}
	if got := len(res.samples[key{"1MiB", "tsk"}]); got != 3 {
		t.Fatalf("1MiB/tsk: %d samples, want 3", got)
	}
	out := res.table()
	for _, want := range []string{
		"Medians of 3 run(s).",
		"| 1MiB | tsk | 100,000,000 | 175,000,000 | 6.30 | 239,175,331 | 2,316,978 |",
		"| 1MiB | 2.00 | 2.92 | 1.25 | – |", // tsk/yaml ns, cpu, tsk/toml ns, cpu
		"| 10MiB | 1.75 | – | – | – |",
		"| 1MiB | toml | 80,000,000 | – | 13.44 |",
		"| tsk | 10.50 | – |",
		"| yaml | 12.00 | – |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestParseFailure(t *testing.T) {
	_, failed, _ := parse(strings.NewReader("--- FAIL: BenchmarkLoad/1MiB/tsk\nFAIL\n"))
	if !failed {
		t.Error("failure not detected")
	}
}
