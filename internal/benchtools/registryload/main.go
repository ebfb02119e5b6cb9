// Command registryload is the load of the registry benchmark: it serves
// N instances on loopback, registers them with a running composer under
// one service with TTL checks, and beats each once a second; it reports
// the time from the first registration to the first request the gateway
// routes to a registered instance, the time until all N are in the
// balancer, and the composer's CPU (from /proc) while they beat.
//
//	registryload -admin 127.0.0.1:18043 -gateway 127.0.0.1:18041 -pid PID -n 1000 -duration 10s
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	admin := flag.String("admin", "127.0.0.1:18043", "the composer's admin address")
	gateway := flag.String("gateway", "127.0.0.1:18041", "the composer's gateway")
	pid := flag.Int("pid", 0, "the composer's process id, for its CPU")
	n := flag.Int("n", 1000, "instances")
	duration := flag.Duration("duration", 10*time.Second, "how long they beat")
	flag.Parse()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	put := func(path string, body any) error {
		var data []byte
		if body != nil {
			data, _ = json.Marshal(body)
		}
		req, _ := http.NewRequest(http.MethodPut, "http://"+*admin+path, bytes.NewReader(data))
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("%s: %s", path, resp.Status)
		}
		return nil
	}
	ports := make([]int, *n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	}
	start := time.Now()
	firstRouted := make(chan time.Duration, 1)
	go func() { // the first request routed to a registered instance
		for time.Since(start) < time.Minute {
			resp, err := client.Get("http://" + *gateway + "/bench")
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 && string(body) == "ok" {
					firstRouted <- time.Since(start)
					return
				}
			}
			time.Sleep(time.Millisecond)
		}
		firstRouted <- -1
	}()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i, port := range ports {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := put("/v1/agent/service/register", map[string]any{"ID": fmt.Sprintf("bench-%d", i), "Name": "bench",
				"Address": "127.0.0.1", "Port": port, "Check": map[string]string{"TTL": "5s", "Status": "passing"}}); err != nil {
				log.Fatal(err)
			}
		}()
	}
	wg.Wait()
	registered := time.Since(start)
	first := <-firstRouted
	// All in the balancer: /v1/services lists them, healthy.
	for time.Since(start) < 2*time.Minute {
		resp, err := client.Get("http://" + *admin + "/v1/services")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Count(string(body), `"origin": "registry"`) >= *n && !strings.Contains(string(body), `"health": "unknown"`) {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	allIn := time.Since(start)
	cpu0 := cpuSeconds(*pid)
	beatStart := time.Now()
	beats := 0
	for time.Since(beatStart) < *duration {
		round := time.Now()
		for i := range ports {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if err := put(fmt.Sprintf("/v1/agent/check/pass/service:bench-%d", i), nil); err != nil {
					log.Print(err)
				}
			}()
		}
		wg.Wait()
		beats += len(ports)
		time.Sleep(max(0, time.Second-time.Since(round)))
	}
	elapsed := time.Since(beatStart)
	cpu := cpuSeconds(*pid) - cpu0
	fmt.Printf("instances %d\nregistered all in %s\nfirst routed request %s after the first registration\nall in the balancer after %s\n",
		*n, registered.Round(time.Millisecond), first.Round(time.Millisecond), allIn.Round(time.Millisecond))
	fmt.Printf("heartbeats %d in %s (%.0f a second)\ncomposer CPU while beating: %.3f s per second (%.1f µs per heartbeat)\n",
		beats, elapsed.Round(time.Millisecond), float64(beats)/elapsed.Seconds(), cpu/elapsed.Seconds(), cpu/float64(beats)*1e6)
}

// cpuSeconds is a process's user and system CPU time (Linux /proc).
func cpuSeconds(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // clock ticks (USER_HZ, 100 on Linux)
}
