// Command selfsigned writes a self-signed certificate for loopback
// (DIR/NAME.pem and DIR/NAME-key.pem), for the HTTPS benchmarks.
//
//	selfsigned -dir /tmp/bench -name gateway
package main

import (
	"flag"
	"log"

	"github.com/tuskcompose/composer/internal/testcert"
)

func main() {
	dir := flag.String("dir", ".", "directory")
	name := flag.String("name", "gateway", "file name stem")
	flag.Parse()
	if _, err := testcert.Write(*dir, *name, "127.0.0.1", "localhost"); err != nil {
		log.Fatal(err)
	}
}
