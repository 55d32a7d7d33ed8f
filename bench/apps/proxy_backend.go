// The backend of bench/proxy_vs_nginx.ts: hello.go plus the routes its rows need. Listens on
// 127.0.0.1:$PORT. Built with `go build -o DIR/proxy-backend proxy_backend.go` (no module needed).
//
//	GET  /      200 "hello\n" (text/plain)
//	GET  /64k   200, 64 KiB of "x" (application/octet-stream)
//	POST /sink  reads and discards the body, then 200 "ok <bytes>\n"
package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"strconv"
)

func main() {
	hello := []byte("hello\n")
	big := bytes.Repeat([]byte("x"), 64*1024)
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(hello)
	})
	http.HandleFunc("/64k", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(big)
	})
	http.HandleFunc("/sink", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("ok " + strconv.FormatInt(n, 10) + "\n"))
	})
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil); err != nil {
		panic(err)
	}
}
