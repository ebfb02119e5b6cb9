// Command bareproxy is the peer of the gateway benchmarks: gin and
// httputil.ReverseProxy with a tuned transport, and nothing else (no
// breaker, no balancer, no health checks, no request ids).
//
//	bareproxy -listen 127.0.0.1:18002 -upstream http://127.0.0.1:18001
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
	flag.Parse()
	target, err := url.Parse(*upstream)
	if err != nil {
		log.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{
		MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: 90 * time.Second,
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Any("/*path", gin.WrapH(proxy))
	log.Fatal(http.ListenAndServe(*listen, r))
}
