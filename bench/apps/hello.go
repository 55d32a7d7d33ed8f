// Minimal net/http hello for the benchmarks: listens on 127.0.0.1:$PORT, answers 200 "hello".
// Built by the benchmarks with `go build -o DIR/hello-go hello.go` (no module needed).
package main

import (
	"net/http"
	"os"
)

func main() {
	body := []byte("hello\n")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil); err != nil {
		panic(err)
	}
}
