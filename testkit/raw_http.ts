/**
 * Simple one-shot HTTP/1.1 requests over raw sockets: `fetch()` does not let callers set the Host
 * header, and proxied routes are chosen by Host. `rawRequest` reads a whole response (one request
 * per connection, `Connection: close`); `rawGet` stops at the status line, for latency readings.
 * Also: whether a port accepts, and a free port.
 * @module
 */
import { concat } from "./bytes.ts";
import { closeQuietly, writeAll } from "./raw_client.ts";
import { holdsWithin } from "./wait.ts";

/** A raw response. */
export interface RawResponse {
  readonly status: number;
  readonly headers: Headers;
  /** Body bytes after transfer decoding (content encoding untouched). */
  readonly bytes: Uint8Array;
  readonly body: string;
}

/** Options of rawRequest. */
export interface RawRequestOptions {
  readonly method?: string;
  readonly headers?: HeadersInit;
  readonly body?: string | Uint8Array;
  /** The connection is closed after this long. @default {30_000} */
  readonly timeoutMs?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Sends one request to 127.0.0.1:port with the given Host and reads the whole response. */
export async function rawRequest(
  port: number,
  host: string,
  path: string,
  options: RawRequestOptions = {},
): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => closeQuietly(conn), options.timeoutMs ?? 30_000);
  try {
    const headers = new Headers(options.headers);
    const body = typeof options.body === "string" ? encoder.encode(options.body) : options.body;
    let head = `${options.method ?? "GET"} ${path} HTTP/1.1\r\nHost: ${host}\r\n`;
    for (const [k, v] of headers) head += `${k}: ${v}\r\n`;
    if (body !== undefined && !headers.has("content-length")) {
      head += `Content-Length: ${body.length}\r\n`;
    }
    if (!headers.has("connection")) head += "Connection: close\r\n";
    await writeAll(conn, encoder.encode(`${head}\r\n`));
    if (body !== undefined) await writeAll(conn, body);
    return parseResponse(await readAll(conn));
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}

async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(64 * 1024);
  while (true) {
    let n: number | null;
    try {
      n = await conn.read(buf);
    } catch {
      break;
    }
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  return concat(chunks);
}

function indexOfCrlfCrlf(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

/** Parses a complete HTTP/1.1 response. */
export function parseResponse(raw: Uint8Array): RawResponse {
  const end = indexOfCrlfCrlf(raw);
  if (end < 0) throw new Error(`Incomplete response head: ${decoder.decode(raw)}`);
  const lines = decoder.decode(raw.subarray(0, end)).split("\r\n");
  const status = Number(lines[0]!.split(" ")[1]);
  const headers = new Headers();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  let bytes = raw.subarray(end + 4);
  if ((headers.get("transfer-encoding") ?? "").toLowerCase().includes("chunked")) {
    bytes = dechunk(bytes);
  }
  return { status, headers, bytes, body: decoder.decode(bytes) };
}

function dechunk(bytes: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    let lineEnd = pos;
    while (lineEnd + 1 < bytes.length && !(bytes[lineEnd] === 13 && bytes[lineEnd + 1] === 10)) {
      lineEnd++;
    }
    const size = parseInt(decoder.decode(bytes.subarray(pos, lineEnd)), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    pos = lineEnd + 2 + size + 2;
  }
  return concat(parts);
}

/** Outcome of one raw GET: status 0 means no status line (refused, reset or timed out). */
export interface RawGet {
  readonly status: number;
  readonly connected: boolean;
}

/**
 * One `GET path HTTP/1.1` to 127.0.0.1:port with the given Host and `Connection: close`; resolves
 * as soon as the status line has arrived (the same method as shared/bench/coldstart.mjs).
 */
export async function rawGet(
  port: number,
  host: string,
  path = "/",
  timeoutMs = 5_000,
): Promise<RawGet> {
  let conn: Deno.TcpConn | undefined;
  let connected = false;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    if (conn) closeQuietly(conn);
  }, timeoutMs);
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    if (timedOut) return { status: 0, connected: true };
    connected = true;
    conn.setNoDelay(true);
    const head =
      `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\nUser-Agent: tenement-bench\r\n\r\n`;
    await conn.write(encoder.encode(head));
    const buf = new Uint8Array(256);
    let text = "";
    while (true) {
      const n = await conn.read(buf);
      if (n === null) return { status: 0, connected };
      text += decoder.decode(buf.subarray(0, n));
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      if (m) return { status: Number(m[1]), connected };
      if (text.length > 64) return { status: 0, connected };
    }
  } catch {
    return { status: 0, connected };
  } finally {
    clearTimeout(timer);
    if (conn) closeQuietly(conn);
  }
}

/** True when nothing accepts connections on 127.0.0.1:port. */
export async function portRefuses(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return false;
  } catch {
    return true;
  }
}

/** Waits until 127.0.0.1:port refuses connections; false after `timeoutMs`. */
export function waitPortRefuses(port: number, timeoutMs = 5_000): Promise<boolean> {
  return holdsWithin(() => portRefuses(port), { timeoutMs, intervalMs: 5 });
}

/** A port the kernel just handed out on 127.0.0.1 (free at the time of the call). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}
