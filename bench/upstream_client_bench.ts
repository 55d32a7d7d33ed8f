/**
 * Throughput sanity check for the upstream client: a hello backend (Deno.serve), a proxy front that
 * forwards with `fetch()`, and one that forwards with `createUpstreamClient()`, each driven by
 * `wrk -t2 -c50 -d5s`. Prints req/s and p99; never fails on numbers.
 *
 * Usage: `deno run -A bench/upstream_client_bench.ts [--duration 5s] [--no-pin]`
 *
 * Each server runs in its own process (this file, re-run with `--role`), so a front never shares
 * an event loop with its backend. With taskset and two or more CPUs, backend and front are pinned
 * to CPU 0 and wrk to CPU 1, as in perf-baseline §2.
 * @module
 */

import { forwardHeaders, responseHeaders } from "../src/proxy/forward_headers.ts";
import { createUpstreamClient, type UpstreamTarget } from "../src/proxy/upstream_client.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function print(text = ""): void {
  const bytes = encoder.encode(`${text}\n`);
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

function argValue(name: string): string | undefined {
  const index = Deno.args.indexOf(name);
  return index === -1 ? undefined : Deno.args[index + 1];
}

// ---- server roles (child processes) -------------------------------------------------------------

function serveRole(role: string, backendPort: number): Deno.HttpServer<Deno.NetAddr> {
  const options = { port: 0, hostname: "127.0.0.1", onListen: () => {} };
  if (role === "backend") return Deno.serve(options, () => new Response("hello"));
  const backend: UpstreamTarget = { kind: "tcp", hostname: "127.0.0.1", port: backendPort };
  const backendOrigin = `http://127.0.0.1:${backendPort}`;
  const client = createUpstreamClient();
  return Deno.serve(options, async (req, info) => {
    const pathAndQuery = req.url.slice(req.url.indexOf("/", req.url.indexOf("//") + 2));
    const headers = forwardHeaders(req.headers, {
      clientIp: info.remoteAddr.hostname,
      proto: "http",
      host: req.headers.get("host") ?? "",
    });
    try {
      if (role === "client") {
        return await client.send(
          backend,
          { method: req.method, pathAndQuery, headers, body: req.body },
          { headersTimeoutMs: 10_000, signal: req.signal },
        );
      }
      const res = await fetch(backendOrigin + pathAndQuery, {
        method: req.method,
        headers,
        body: req.body,
        redirect: "manual",
        signal: req.signal,
      });
      return new Response(res.body, {
        status: res.status,
        statusText: res.statusText,
        headers: responseHeaders(res.headers),
      });
    } catch {
      return new Response("bad gateway", { status: 502 });
    }
  });
}

async function runRole(role: string): Promise<void> {
  const server = serveRole(role, Number(argValue("--backend-port") ?? 0));
  print(String(server.addr.port));
  await server.finished;
}

// ---- driver -------------------------------------------------------------------------------------

interface Child {
  readonly port: number;
  readonly process: Deno.ChildProcess;
}

async function spawnRole(role: string, pin: boolean, backendPort = 0): Promise<Child> {
  const args = ["run", "-A", new URL(import.meta.url).pathname, "--role", role];
  if (backendPort !== 0) args.push("--backend-port", String(backendPort));
  const [command, commandArgs] = pin
    ? ["taskset", ["-c", "0", Deno.execPath(), ...args]]
    : [Deno.execPath(), args];
  const process = new Deno.Command(command, {
    args: commandArgs,
    stdout: "piped",
    stderr: "inherit",
  })
    .spawn();
  const reader = process.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) {
      throw new Error(`Cannot start bench role "${role}": it exited before printing a port`);
    }
    text += decoder.decode(value);
  }
  reader.releaseLock();
  process.stdout.cancel().catch(() => {});
  return { port: Number(text.trim()), process };
}

async function stop(child: Child): Promise<void> {
  try {
    child.process.kill("SIGTERM");
  } catch {
    // Already gone.
  }
  await child.process.status;
}

interface WrkResult {
  readonly requestsPerSec: number;
  readonly p50: string;
  readonly p99: string;
  readonly errors: string;
}

async function wrk(port: number, duration: string, pin: boolean): Promise<WrkResult> {
  const url = `http://127.0.0.1:${port}/`;
  const wrkArgs = ["-t2", "-c50", `-d${duration}`, "--latency", "-H", "Host: app1.localhost", url];
  const [command, args] = pin ? ["taskset", ["-c", "1", "wrk", ...wrkArgs]] : ["wrk", wrkArgs];
  // Warm up the JIT and the keep-alive pools first; the numbers come from the second run.
  await new Deno.Command(command, {
    args: args.map((a) => a.startsWith("-d") ? "-d1s" : a),
    stdout: "null",
  })
    .output();
  const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  const text = decoder.decode(out.stdout);
  const errorLine = /Socket errors:.*|Non-2xx or 3xx responses: \d+/g;
  return {
    requestsPerSec: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN),
    p50: /^\s+50%\s+(\S+)/m.exec(text)?.[1] ?? "?",
    p99: /^\s+99%\s+(\S+)/m.exec(text)?.[1] ?? "?",
    errors: (text.match(errorLine) ?? []).join("; ") || "none",
  };
}

async function hasWrk(): Promise<boolean> {
  try {
    return (await new Deno.Command("wrk", { args: ["-v"], stdout: "null", stderr: "null" })
      .output())
      .code !== 127;
  } catch {
    return false;
  }
}

async function canPin(): Promise<boolean> {
  if (Deno.args.includes("--no-pin") || navigator.hardwareConcurrency < 2) return false;
  try {
    return (await new Deno.Command("taskset", { args: ["-c", "0", "true"] }).output()).success;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  if (!(await hasWrk())) {
    print("wrk is not on PATH; nothing to measure");
    return;
  }
  const duration = argValue("--duration") ?? "5s";
  const pin = await canPin();
  print(
    `# upstream client throughput (wrk -t2 -c50 -d${duration}, ${
      pin ? "pinned: servers CPU 0, wrk CPU 1" : "unpinned"
    })`,
  );
  print(`deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs`);
  const backend = await spawnRole("backend", pin);
  const rows: [string, WrkResult][] = [];
  try {
    rows.push(["direct backend (Deno.serve hello)", await wrk(backend.port, duration, pin)]);
    for (
      const [label, role] of [["fetch front", "fetch"], [
        "upstream_client front",
        "client",
      ]] as const
    ) {
      const front = await spawnRole(role, pin, backend.port);
      try {
        rows.push([label, await wrk(front.port, duration, pin)]);
      } finally {
        await stop(front);
      }
    }
  } finally {
    await stop(backend);
  }
  const direct = rows[0]![1].requestsPerSec;
  print();
  print("| target | req/s | vs direct | p50 | p99 | errors |");
  print("|---|---:|---:|---:|---:|---|");
  for (const [label, r] of rows) {
    print(
      `| ${label} | ${r.requestsPerSec.toFixed(0)} | ${
        (r.requestsPerSec / direct).toFixed(2)
      }x | ${r.p50} | ${r.p99} | ${r.errors} |`,
    );
  }
}

if (import.meta.main) {
  const role = argValue("--role");
  try {
    await (role === undefined ? main() : runRole(role));
  } catch (error) {
    // A benchmark reports problems; it never fails the run.
    print(`benchmark could not finish: ${error instanceof Error ? error.message : String(error)}`);
  }
}
