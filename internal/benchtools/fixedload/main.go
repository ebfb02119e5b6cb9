// Command fixedload sends exactly n GET requests to a URL over c
// kept-alive connections and exits non-zero if any failed (the first
// five failures said): a load whose
// size, not its duration, is fixed, for counting a proxy's instructions
// per request (scripts/bench-instructions.sh).
//
//	fixedload -url http://127.0.0.1:18003/ -n 4000 -c 8
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:18003/", "what to request")
	n := flag.Int("n", 4000, "requests (a multiple of -c)")
	c := flag.Int("c", 8, "connections")
	flag.Parse()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *c, DisableCompression: true}}
	var failed atomic.Int64
	var wg sync.WaitGroup
	for range *c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range *n / *c {
				resp, err := client.Get(*url)
				if err != nil {
					if failed.Add(1) <= 5 {
						log.Printf("request failed: %v", err)
					}
					continue
				}
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK && failed.Add(1) <= 5 {
					log.Printf("answer %d (X-Request-Id %s): %s", resp.StatusCode, resp.Header.Get("X-Request-Id"), body)
				}
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		log.Fatalf("%d of %d requests failed", f, *n)
	}
	fmt.Println(*n / *c * *c)
}
