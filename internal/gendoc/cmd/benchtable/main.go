// Command benchtable summarises the output of BenchmarkLoad (package tsk):
// it copies `go test -bench` output from stdin to stdout and then prints a
// Markdown table with the median ns/op, cpu-ns/op, MB/s, B/op and
// allocs/op of each size and format, the ratios of tsk to yaml and toml,
// and the linearity of each format (time at the largest size over time at
// the one before it).
//
//	go test ./tsk -run '^$' -bench Load -benchmem -count 3 | go run ./internal/gendoc/cmd/benchtable
//
// It exits with status 1 when the input reports a failure or holds no
// BenchmarkLoad result.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

func main() {
	res, failed, err := parse(io.TeeReader(os.Stdin, os.Stdout))
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	if len(res.order) == 0 {
		fmt.Fprintln(os.Stderr, "benchtable: no BenchmarkLoad/<size>/<format> results")
		os.Exit(1)
	}
	fmt.Println()
	fmt.Print(res.table())
	if failed {
		fmt.Fprintln(os.Stderr, "benchtable: the benchmark run failed")
		os.Exit(1)
	}
}

// sample is one result line; a metric the line lacks is -1.
type sample struct {
	ns, cpu, mbs, bytes, allocs float64
}

// results holds the samples by size and format, in the order first seen.
type results struct {
	order   []key
	samples map[key][]sample
	sizes   []string
	formats []string
}

type key struct{ size, format string }

// parse reads `go test -bench` output. failed reports a FAIL line.
func parse(r io.Reader) (res *results, failed bool, err error) {
	res = &results{samples: map[key][]sample{}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "FAIL") || strings.HasPrefix(line, "--- FAIL") {
			failed = true
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "BenchmarkLoad/") {
			continue
		}
		parts := strings.Split(strings.TrimPrefix(f[0], "BenchmarkLoad/"), "/")
		if len(parts) != 2 {
			continue
		}
		format := parts[1]
		if i := strings.LastIndexByte(format, '-'); i > 0 {
			format = format[:i] // the -GOMAXPROCS suffix
		}
		k := key{parts[0], format}
		s := sample{-1, -1, -1, -1, -1}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				s.ns = v
			case "cpu-ns/op":
				s.cpu = v
			case "MB/s":
				s.mbs = v
			case "B/op":
				s.bytes = v
			case "allocs/op":
				s.allocs = v
			}
		}
		if s.ns < 0 {
			continue
		}
		if _, ok := res.samples[k]; !ok {
			res.order = append(res.order, k)
			if !slices.Contains(res.sizes, k.size) {
				res.sizes = append(res.sizes, k.size)
			}
			if !slices.Contains(res.formats, k.format) {
				res.formats = append(res.formats, k.format)
			}
		}
		res.samples[k] = append(res.samples[k], s)
	}
	return res, failed, sc.Err()
}

// median returns the median of the samples of k by field, skipping
// samples that lack it; ok is false when all do.
func (r *results) median(k key, field func(sample) float64) (m float64, ok bool) {
	var vs []float64
	for _, s := range r.samples[k] {
		if v := field(s); v >= 0 {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return 0, false
	}
	slices.Sort(vs)
	if n := len(vs); n%2 == 0 {
		return (vs[n/2-1] + vs[n/2]) / 2, true
	}
	return vs[len(vs)/2], true
}

func ns(s sample) float64  { return s.ns }
func cpu(s sample) float64 { return s.cpu }

// ratio returns the ratio of the medians of a and b by field, as text.
func (r *results) ratio(a, b key, field func(sample) float64) string {
	x, ok := r.median(a, field)
	y, ok2 := r.median(b, field)
	if !ok || !ok2 || x == 0 || y == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", x/y)
}

// table writes the summary in Markdown.
func (r *results) table() string {
	var b strings.Builder
	n := 0
	for _, ss := range r.samples {
		n = max(n, len(ss))
	}
	fmt.Fprintf(&b, "Medians of %d run(s).\n\n", n)
	b.WriteString("| size | format | ns/op | cpu-ns/op | MB/s | B/op | allocs/op |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|\n")
	for _, k := range r.order {
		cell := func(field func(sample) float64, format func(float64) string) string {
			if v, ok := r.median(k, field); ok {
				return format(v)
			}
			return "–"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", k.size, k.format,
			cell(ns, group), cell(cpu, group),
			cell(func(s sample) float64 { return s.mbs }, func(v float64) string { return fmt.Sprintf("%.2f", v) }),
			cell(func(s sample) float64 { return s.bytes }, group),
			cell(func(s sample) float64 { return s.allocs }, group))
	}

	others := slices.DeleteFunc(slices.Clone(r.formats), func(f string) bool { return f == "tsk" })
	if slices.Contains(r.formats, "tsk") && len(others) > 0 {
		b.WriteString("\nRatios of tsk to the others (≤ 1.00: tsk is at least as fast):\n\n| size |")
		for _, f := range others {
			fmt.Fprintf(&b, " tsk/%s ns | tsk/%s cpu |", f, f)
		}
		b.WriteString("\n|---|" + strings.Repeat("--:|", 2*len(others)) + "\n")
		for _, size := range r.sizes {
			fmt.Fprintf(&b, "| %s |", size)
			for _, f := range others {
				fmt.Fprintf(&b, " %s | %s |", r.ratio(key{size, "tsk"}, key{size, f}, ns), r.ratio(key{size, "tsk"}, key{size, f}, cpu))
			}
			b.WriteString("\n")
		}
	}

	if len(r.sizes) >= 2 {
		small, large := r.sizes[len(r.sizes)-2], r.sizes[len(r.sizes)-1]
		fmt.Fprintf(&b, "\nLinearity (%s ÷ %s):\n\n| format | ns | cpu |\n|---|--:|--:|\n", large, small)
		for _, f := range r.formats {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", f, r.ratio(key{large, f}, key{small, f}, ns), r.ratio(key{large, f}, key{small, f}, cpu))
		}
	}
	return b.String()
}

// group writes a number rounded to an integer with thousands separators.
func group(v float64) string {
	s := strconv.FormatFloat(v, 'f', 0, 64)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
