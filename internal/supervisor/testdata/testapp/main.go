// Command testapp is the program the supervisor's tests run: an HTTP
// server on $PORT whose behaviour the environment sets.
//
//	APP_NAME        what GET / answers (with the pid)
//	APP_EXIT_AFTER  exit after this long (a duration) ...
//	APP_EXIT_CODE   ... with this status (default 3)
//	APP_READY_AFTER /health answers 503 until this long after the start
//	APP_IGNORE_TERM ignore SIGTERM (for the stop timeout)
//	APP_CHILD       start `sleep 300` in the same process group
package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	start := time.Now()
	name := os.Getenv("APP_NAME")
	fmt.Printf("%s starting on port %s\n", name, os.Getenv("PORT"))
	fmt.Fprintln(os.Stderr, "a line on stderr")
	if d, err := time.ParseDuration(os.Getenv("APP_EXIT_AFTER")); err == nil {
		code, _ := strconv.Atoi(os.Getenv("APP_EXIT_CODE"))
		if code == 0 && os.Getenv("APP_EXIT_CODE") == "" {
			code = 3
		}
		time.AfterFunc(d, func() { fmt.Println("exiting with", code); os.Exit(code) })
	}
	if os.Getenv("APP_IGNORE_TERM") != "" {
		signal.Ignore(syscall.SIGTERM)
	}
	if os.Getenv("APP_CHILD") != "" {
		c := exec.Command("sleep", "300")
		c.Start()
		fmt.Println("child", c.Process.Pid)
	}
	ready, _ := time.ParseDuration(os.Getenv("APP_READY_AFTER"))
	http.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if time.Since(start) < ready {
			w.WriteHeader(503)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %d", name, os.Getpid())
	})
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
