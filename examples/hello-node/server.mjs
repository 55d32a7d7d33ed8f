// hello-node: the smallest useful tenant app, Node stdlib only.
//
// tenement starts one copy per tenant with PORT (listen on 127.0.0.1:$PORT) and DATA_DIR (this
// tenant's own directory). Each `GET /` bumps a visit counter kept in $DATA_DIR/visits.json.
//
//   GET /health -> 200 {"status":"ok"}
//   GET /       -> 200 {"app":"hello-node","tenant":...,"pid":...,"visits":N}

import { Buffer } from "node:buffer";
import { createServer } from "node:http";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import process from "node:process";

const port = Number(process.env.PORT);
const dataDir = process.env.DATA_DIR;
if (!Number.isInteger(port) || port <= 0 || !dataDir) {
  process.stderr.write("hello-node: PORT and DATA_DIR must be set (tenement sets them)\n");
  process.exit(1);
}
const tenant = process.env.TENANT || basename(dataDir);
const visitsFile = join(dataDir, "visits.json");
mkdirSync(dataDir, { recursive: true });

let visits = 0;
try {
  visits = JSON.parse(readFileSync(visitsFile, "utf8")).visits ?? 0;
} catch {
  // first start: no file yet
}

function saveVisits() {
  // Write then rename, so a kill mid-write never leaves a torn file.
  writeFileSync(`${visitsFile}.tmp`, JSON.stringify({ visits }) + "\n");
  renameSync(`${visitsFile}.tmp`, visitsFile);
}

function send(res, status, body) {
  const json = JSON.stringify(body) + "\n";
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(json),
  });
  res.end(json);
}

const server = createServer((req, res) => {
  const path = req.url.split("?")[0];
  if (req.method === "GET" && path === "/health") {
    send(res, 200, { status: "ok" });
  } else if (req.method === "GET" && path === "/") {
    visits += 1;
    saveVisits();
    send(res, 200, { app: "hello-node", tenant, pid: process.pid, visits });
  } else {
    send(res, 404, { error: "not found" });
  }
  process.stdout.write(`${req.method} ${req.url} ${res.statusCode}\n`);
});

server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`hello-node listening on 127.0.0.1:${port} (tenant ${tenant})\n`);
});

function stop() {
  server.close(() => process.exit(0)); // stop accepting; exit once open requests finish
  server.closeIdleConnections(); // don't wait for idle keep-alive connections
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
