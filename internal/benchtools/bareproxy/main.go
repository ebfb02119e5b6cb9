// Command bareproxy is the peer of the gateway benchmarks: gin and
// httputil.ReverseProxy with a tuned transport, and nothing else (no
// breaker, no balancer, no health checks, no request ids). With -h2c it
// takes and makes HTTP/2 without TLS, for gRPC.
//
//	bareproxy -listen 127.0.0.1:18002 -upstream http://127.0.0.1:18001 [-h2c]
package main

import (
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18002", "address")
	upstream := flag.String("upstream", "http://127.0.0.1:18001", "upstream URL")
	h2c := flag.Bool("h2c", false, "HTTP/2 without TLS in and out (gRPC)")
	flag.Parse()
	target, err := url.Parse(*upstream)
	if err != nil {
		log.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{
		MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: 90 * time.Second,
	}
	srv := &http.Server{Addr: *listen}
	if *h2c {
		protocols := new(http.Protocols)
		protocols.SetUnencryptedHTTP2(true)
		proxy.Transport = &http.Transport{Protocols: protocols, IdleConnTimeout: 90 * time.Second}
		srv.Protocols = protocols
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Any("/*path", gin.WrapH(proxy))
	srv.Handler = r
	log.Fatal(srv.ListenAndServe())
}
