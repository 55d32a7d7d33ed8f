// hello-go: the same tiny tenant app as hello-node, in Go with only the standard library.
//
// tenement starts one copy per tenant with PORT (listen on 127.0.0.1:$PORT) and DATA_DIR (this
// tenant's own directory). Each `GET /` bumps a visit counter kept in $DATA_DIR/visits.json.
//
//	GET /health -> 200 {"status":"ok"}
//	GET /       -> 200 {"app":"hello-go","tenant":...,"pid":...,"visits":N}
//
// Build with ./build.sh (writes ./hello-go next to this file).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

type counter struct {
	mu     sync.Mutex
	file   string
	visits int
}

func (c *counter) load() {
	var saved struct{ Visits int }
	if b, err := os.ReadFile(c.file); err == nil && json.Unmarshal(b, &saved) == nil {
		c.visits = saved.Visits
	}
}

// bump adds one visit and saves it (write then rename, so a kill mid-write never tears the file).
func (c *counter) bump() (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.visits++
	b, _ := json.Marshal(map[string]int{"visits": c.visits})
	tmp := c.file + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return c.visits, err
	}
	return c.visits, os.Rename(tmp, c.file)
}

func sendJSON(w http.ResponseWriter, status int, body any) {
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// statusRecorder remembers the status code so each request can be logged with it.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func main() {
	log.SetFlags(0)
	port, dataDir := os.Getenv("PORT"), os.Getenv("DATA_DIR")
	if port == "" || dataDir == "" {
		fmt.Fprintln(os.Stderr, "hello-go: PORT and DATA_DIR must be set (tenement sets them)")
		os.Exit(1)
	}
	tenant := os.Getenv("TENANT")
	if tenant == "" {
		tenant = filepath.Base(dataDir)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		log.Fatalf("hello-go: %v", err)
	}
	visits := &counter{file: filepath.Join(dataDir, "visits.json")}
	visits.load()

	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		sendJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" || r.Method != http.MethodGet {
			sendJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
			return
		}
		n, err := visits.bump()
		if err != nil {
			fmt.Fprintf(os.Stderr, "hello-go: saving visits: %v\n", err)
		}
		sendJSON(w, http.StatusOK, map[string]any{
			"app": "hello-go", "tenant": tenant, "pid": os.Getpid(), "visits": n,
		})
	})
	logged := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		mux.ServeHTTP(rec, r)
		fmt.Printf("%s %s %d\n", r.Method, r.URL.RequestURI(), rec.status)
	})

	srv := &http.Server{Addr: "127.0.0.1:" + port, Handler: logged}
	stopped := make(chan struct{})
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		<-sig
		// Stop accepting, let in-flight requests finish (up to 5s), then return from main.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		close(stopped)
	}()

	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		log.Fatalf("hello-go: %v", err)
	}
	fmt.Printf("hello-go listening on %s (tenant %s)\n", srv.Addr, tenant)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("hello-go: %v", err)
	}
	<-stopped
	fmt.Println("hello-go stopped")
}
