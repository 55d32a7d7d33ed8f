/**
 * A deliberately simple HTTP/1.1 client for tests: `fetch()` does not let callers set the Host
 * header, and proxied routes are chosen by Host. One request per connection (`Connection:
 * close`), response read to EOF, chunked bodies decoded.
 * @module
 */

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
  readonly timeoutMs?: number;
}

const encoder = new TextEncoder();

/** Sends one request to 127.0.0.1:port with the given Host and reads the whole response. */
export async function rawRequest(
  port: number,
  host: string,
  path: string,
  options: RawRequestOptions = {},
): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), options.timeoutMs ?? 30_000);
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
    const raw = await readAll(conn);
    return parseResponse(raw);
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Closed by the timeout.
    }
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
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
  const total = chunks.reduce((s, c) => s + c.length, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
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
  if (end < 0) throw new Error(`Incomplete response head: ${new TextDecoder().decode(raw)}`);
  const lines = new TextDecoder().decode(raw.subarray(0, end)).split("\r\n");
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
  return { status, headers, bytes, body: new TextDecoder().decode(bytes) };
}

function dechunk(bytes: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    let lineEnd = pos;
    while (lineEnd + 1 < bytes.length && !(bytes[lineEnd] === 13 && bytes[lineEnd + 1] === 10)) {
      lineEnd++;
    }
    const size = parseInt(new TextDecoder().decode(bytes.subarray(pos, lineEnd)), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    pos = lineEnd + 2 + size + 2;
  }
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
