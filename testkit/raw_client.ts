/**
 * A raw HTTP/1.1 client for byte-level claims: exact bytes out, parsed responses in, several
 * exchanges per connection, chunk framing kept alongside the decoded body. No HTTP library adds,
 * drops or decodes anything on the way.
 * @module
 */
import { concat, latin1 } from "./bytes.ts";

/** Upper bound of one read, which only catches a hang. */
const HANG_MS = 15_000;
const decoder = new TextDecoder();

/** One response as it came. */
export interface RawExchangeResponse {
  readonly status: number;
  /** Header fields in arrival order, names lower-cased. */
  readonly fields: [string, string][];
  readonly headers: Headers;
  /** The response head as sent. */
  readonly head: string;
  /** Body after transfer decoding (content coding untouched). */
  readonly body: Uint8Array;
  /** Body bytes exactly as they came (chunk framing included). */
  readonly rawBody: Uint8Array;
}

/** The value of header `name` (lower case) of a response. */
export function headerOf(res: RawExchangeResponse, name: string): string | undefined {
  return res.fields.find(([n]) => n === name)?.[1];
}

/** The body of a response as UTF-8 text. */
export function bodyText(res: { readonly body: Uint8Array }): string {
  return decoder.decode(res.body);
}

/** Closes a connection, ignoring one that is closed already. */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/** Writes all of `bytes`. */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

/** One client connection to 127.0.0.1. */
export class RawClient implements Disposable {
  readonly conn: Deno.TcpConn | Deno.TlsConn;
  readonly #hangMs: number;
  #buf = new Uint8Array(0);
  #isEnded = false;

  private constructor(conn: Deno.TcpConn | Deno.TlsConn, hangMs: number) {
    this.conn = conn;
    this.#hangMs = hangMs;
  }

  /** Connects to 127.0.0.1:port; a read that waits longer than `hangMs` closes the connection. */
  static async open(port: number, hangMs = HANG_MS): Promise<RawClient> {
    return new RawClient(await Deno.connect({ hostname: "127.0.0.1", port }), hangMs);
  }

  /** A client over a connection opened elsewhere (a TLS one, say); it owns `conn` from now on. */
  static over(conn: Deno.TcpConn | Deno.TlsConn, hangMs = HANG_MS): RawClient {
    return new RawClient(conn, hangMs);
  }

  /** Sends bytes, or a string byte for byte (Latin-1). */
  async send(data: string | Uint8Array): Promise<void> {
    await writeAll(this.conn, typeof data === "string" ? latin1(data) : data);
  }

  /**
   * Sends a request (CRLF line ends added) and reads its response; interim 1xx responses other
   * than 101 are read past.
   */
  async request(
    method: string,
    target: string,
    fields: readonly [string, string][],
    body?: Uint8Array,
  ): Promise<RawExchangeResponse> {
    let head = `${method} ${target} HTTP/1.1\r\n`;
    for (const [name, value] of fields) head += `${name}: ${value}\r\n`;
    await this.send(`${head}\r\n`);
    if (body !== undefined) await this.send(body);
    for (;;) {
      const res = await this.read(method);
      if (res.status >= 200 || res.status === 101) return res;
    }
  }

  async #more(): Promise<boolean> {
    if (this.#isEnded) return false;
    const chunk = new Uint8Array(256 * 1024);
    let n: number | null;
    const timer = setTimeout(() => closeQuietly(this.conn), this.#hangMs);
    try {
      n = await this.conn.read(chunk);
    } catch {
      n = null;
    } finally {
      clearTimeout(timer);
    }
    if (n === null) {
      this.#isEnded = true;
      return false;
    }
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
    return true;
  }

  async #take(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) {
      if (!(await this.#more())) {
        throw new Error(`connection ended ${n - this.#buf.length} bytes early`);
      }
    }
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.slice(n);
    return out;
  }

  async #line(): Promise<string> {
    for (;;) {
      const lf = this.#buf.indexOf(10);
      if (lf !== -1) return String.fromCharCode(...await this.#take(lf + 1));
      if (!(await this.#more())) throw new Error("connection ended in a line");
    }
  }

  /** Reads one response (interim 1xx responses included, as their own responses). */
  async read(method = "GET"): Promise<RawExchangeResponse> {
    let head = "";
    for (;;) {
      const line = await this.#line();
      head += line;
      if (line === "\r\n" && head.length > 2) break;
    }
    const lines = head.split("\r\n");
    const status = Number(lines[0]!.split(" ")[1]);
    const fields: [string, string][] = lines.slice(1, -2).map((l) => {
      const colon = l.indexOf(":");
      return [l.slice(0, colon).toLowerCase(), l.slice(colon + 1).trim()];
    });
    const headers = new Headers(fields);
    const response = (body: Uint8Array, rawBody = body): RawExchangeResponse => ({
      status,
      fields,
      headers,
      head,
      body,
      rawBody,
    });
    if (method === "HEAD" || status < 200 || status === 204 || status === 304) {
      return response(new Uint8Array(0));
    }
    if (headers.get("transfer-encoding")?.toLowerCase() === "chunked") {
      const parts: Uint8Array[] = [];
      const raw: Uint8Array[] = [];
      for (;;) {
        const sizeLine = await this.#line();
        raw.push(latin1(sizeLine));
        const size = parseInt(sizeLine, 16);
        if (size === 0) {
          for (;;) {
            const trailer = await this.#line();
            raw.push(latin1(trailer));
            if (trailer === "\r\n") break;
          }
          break;
        }
        const data = await this.#take(size + 2);
        raw.push(data);
        parts.push(data.subarray(0, size));
      }
      return response(concat(parts), concat(raw));
    }
    const length = headers.get("content-length");
    if (length !== null) return response(await this.#take(Number(length)));
    return response(await this.readToEnd());
  }

  /** Everything until the peer closes. */
  async readToEnd(): Promise<Uint8Array> {
    while (await this.#more()) { /* keep reading */ }
    const out = this.#buf;
    this.#buf = new Uint8Array(0);
    return out;
  }

  /** Whether the peer closes the connection (without sending anything more) within `ms`. */
  async isClosedWithin(ms = this.#hangMs): Promise<boolean> {
    const timer = setTimeout(() => closeQuietly(this.conn), ms);
    try {
      const n = await this.conn.read(new Uint8Array(1024));
      return n === null;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the connection. */
  close(): void {
    closeQuietly(this.conn);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** One request on a fresh connection. */
export async function rawExchange(
  port: number,
  method: string,
  target: string,
  fields: readonly [string, string][],
  body?: Uint8Array,
): Promise<RawExchangeResponse> {
  using client = await RawClient.open(port);
  return await client.request(method, target, fields, body);
}
