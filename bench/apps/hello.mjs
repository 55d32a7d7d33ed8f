// Minimal node:http hello for the benchmarks: listens on 127.0.0.1:$PORT, answers 200 "hello".
import http from "node:http";

http.createServer((_req, res) => {
  res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": 6 });
  res.end("hello\n");
}).listen(Number(process.env.PORT), "127.0.0.1");
