// Command benchreport turns the raw lines of scripts/bench-gateway.sh
// ("NAME rps N" and "NAME lat P50 P90 P99" once per round each,
// in µs) into its results: a JSON file, a Markdown table with the ratios
// to nginx and haproxy on standard output, and an SVG drawing of the
// throughput and the latency percentiles of every target.
//
//	benchreport -in results -json docs/bench-gateway.json -svg docs/bench-gateway.svg
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"log"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Target is one proxy (or the upstream reached directly) as measured.
type Target struct {
	Name string  `json:"name"`
	RPS  float64 `json:"rps"` // the median of its rounds at Conns connections
	// P50, P90, P99 are the medians over the rounds of each round's
	// percentile at one connection, in µs; Added is P50 minus direct's.
	P50   float64 `json:"p50_us"`
	P90   float64 `json:"p90_us"`
	P99   float64 `json:"p99_us"`
	Added float64 `json:"added_p50_us"`
}

// Report is what a run measured.
type Report struct {
	Date    string             `json:"date"`
	Conns   int                `json:"connections"`
	Rounds  int                `json:"rounds"`
	Targets []Target           `json:"targets"`
	Ratios  map[string]float64 `json:"ratios"`
}

// order is how targets are listed.
var order = []string{"direct", "bareproxy", "composer", "base", "mesh", "nginx", "haproxy", "nginx_fwd", "haproxy_fwd", "composer_tls", "nginx_tls"}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func main() {
	in := flag.String("in", "", "the raw result lines")
	jsonOut := flag.String("json", "", "where the JSON goes")
	svgOut := flag.String("svg", "", "where the SVG goes")
	conns := flag.Int("conns", 32, "wrk's connections for throughput")
	flag.Parse()
	f, err := os.Open(*in)
	if err != nil {
		log.Fatal(err)
	}
	rpsRuns := map[string][]float64{}
	lat := map[string][3][]float64{}
	sc := bufio.NewScanner(f)
	rounds := 0
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 {
			continue
		}
		name := fields[0]
		switch fields[1] {
		case "rps":
			v, _ := strconv.ParseFloat(fields[2], 64)
			rpsRuns[name] = append(rpsRuns[name], v)
		case "lat":
			if len(fields) != 5 {
				continue
			}
			l := lat[name]
			for i := range 3 {
				v, _ := strconv.ParseFloat(fields[2+i], 64)
				l[i] = append(l[i], v)
			}
			lat[name] = l
			rounds = max(rounds, len(l[0]))
		}
	}
	rps := map[string]float64{} // the median of a target's runs
	for name, runs := range rpsRuns {
		rps[name] = median(runs)
	}
	r := Report{Date: time.Now().UTC().Format(time.RFC3339), Conns: *conns, Rounds: rounds, Ratios: map[string]float64{}}
	direct := median(lat["direct"][0])
	byName := map[string]Target{}
	for _, name := range order {
		if _, ok := rps[name]; !ok {
			continue
		}
		l := lat[name]
		t := Target{Name: name, RPS: rps[name], P50: median(l[0]), P90: median(l[1]), P99: median(l[2])}
		t.Added = t.P50 - direct
		r.Targets = append(r.Targets, t)
		byName[name] = t
	}
	ratio := func(key, a, b string, added bool) {
		x, okx := byName[a]
		y, oky := byName[b]
		if !okx || !oky {
			return
		}
		if added {
			if y.Added > 0 {
				r.Ratios[key] = x.Added / y.Added
			}
		} else if y.RPS > 0 {
			r.Ratios[key] = x.RPS / y.RPS
		}
	}
	for _, peer := range []string{"nginx", "haproxy", "nginx_fwd", "haproxy_fwd", "bareproxy", "base"} {
		ratio("composer/"+peer+" rps", "composer", peer, false)
		ratio("composer/"+peer+" added p50", "composer", peer, true)
	}
	ratio("haproxy/nginx rps", "haproxy", "nginx", false)
	ratio("haproxy/nginx added p50", "haproxy", "nginx", true)
	ratio("composer_tls/nginx_tls rps", "composer_tls", "nginx_tls", false)
	ratio("composer_tls/nginx_tls added p50", "composer_tls", "nginx_tls", true)
	ratio("mesh/nginx rps", "mesh", "nginx", false)
	ratio("mesh/nginx added p50", "mesh", "nginx", true)

	fmt.Printf("\n| target | req/s (%d conns) | p50 | p90 | p99 (1 conn, median of %d) | added p50 |\n|---|--:|--:|--:|--:|--:|\n", r.Conns, r.Rounds)
	for _, t := range r.Targets {
		fmt.Printf("| %s | %.0f | %.0f µs | %.0f µs | %.0f µs | %.0f µs |\n", t.Name, t.RPS, t.P50, t.P90, t.P99, t.Added)
	}
	fmt.Println()
	keys := make([]string, 0, len(r.Ratios))
	for k := range r.Ratios {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Printf("%s: %.2f\n", k, r.Ratios[k])
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(r, "", "  ")
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	if *svgOut != "" {
		if err := os.WriteFile(*svgOut, []byte(svg(r)), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

// svg draws two panels: requests per second per target, and the p50,
// p90 and p99 at one connection per target.
func svg(r Report) string {
	const width, rowH, left, barW = 900, 22, 130, 300
	n := len(r.Targets)
	height := 70 + n*rowH + 40
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="14" font-weight="bold">make bench-gateway, %s</text>`+"\n", html.EscapeString(r.Date))
	fmt.Fprintf(&b, `<text x="%d" y="45">requests/s (%d connections)</text>`+"\n", left, r.Conns)
	fmt.Fprintf(&b, `<text x="%d" y="45">latency at 1 connection, µs: p50, p90, p99</text>`+"\n", left+barW+140)
	maxRPS, maxLat := 1.0, 1.0
	for _, t := range r.Targets {
		maxRPS, maxLat = max(maxRPS, t.RPS), max(maxLat, t.P99)
	}
	colors := map[string]string{"composer": "#d9534f", "base": "#f0ad4e", "nginx": "#5cb85c", "haproxy": "#5bc0de", "nginx_fwd": "#3d8b3d", "haproxy_fwd": "#31a0c0", "direct": "#999999"}
	for i, t := range r.Targets {
		y := 60 + i*rowH
		c := colors[t.Name]
		if c == "" {
			c = "#7777aa"
		}
		fmt.Fprintf(&b, `<text x="10" y="%d">%s</text>`+"\n", y+14, html.EscapeString(t.Name))
		w := t.RPS / maxRPS * barW
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="16" fill="%s"/><text x="%.1f" y="%d">%.0f</text>`+"\n", left, y+2, w, c, float64(left)+w+4, y+14, t.RPS)
		x0 := left + barW + 140
		for j, v := range []float64{t.P50, t.P90, t.P99} {
			lw := v / maxLat * barW
			op := []string{"1", "0.6", "0.3"}[j]
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="5" fill="%s" fill-opacity="%s"/>`+"\n", x0, y+2+j*5, lw, c, op)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%.0f / %.0f / %.0f</text>`+"\n", float64(x0)+t.P99/maxLat*barW+4, y+14, t.P50, t.P90, t.P99)
	}
	fmt.Fprintf(&b, `<text x="10" y="%d" fill="#555">each proxy on one core (CPU 0); the upstream and wrk on CPU 1; every address on loopback</text>`+"\n", height-12)
	b.WriteString("</svg>\n")
	return b.String()
}
