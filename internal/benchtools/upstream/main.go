// Command upstream is the HTTP service the gateway benchmarks put behind
// every proxy: it answers every request with a short body.
//
//	upstream -listen 127.0.0.1:18001
package main

import (
	"flag"
	"log"
	"net/http"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18001", "address")
	flag.Parse()
	body := []byte("hello from the upstream\n")
	log.Fatal(http.ListenAndServe(*listen, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})))
}
