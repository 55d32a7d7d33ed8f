/**
 * Health and readiness probes: a TCP connect, and an HTTP/1.1 GET judged by its status code (2xx
 * passes; a body that merely contains "200" does not).
 * @module
 */
import { messageOf } from "../core/errors.ts";

/** A probe's outcome, as the supervisor's ProbeResult. */
export interface ProbeOutcome {
  readonly isPass: boolean;
  readonly detail: string;
  /** True when the connect was refused: nothing listens on the port. */
  readonly isRefused: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Probes instances on 127.0.0.1. */
export class NetProber {
  /** Connects to 127.0.0.1:port and closes again. */
  async tcp(port: number, timeoutMs: number): Promise<ProbeOutcome> {
    try {
      const conn = await withTimeout(Deno.connect({ hostname: "127.0.0.1", port }), timeoutMs);
      conn.close();
      return { isPass: true, detail: "connected", isRefused: false };
    } catch (err: unknown) {
      return failure(err, timeoutMs);
    }
  }

  /** GETs `path`; passes on 2xx. */
  async http(port: number, path: string, timeoutMs: number): Promise<ProbeOutcome> {
    let conn: Deno.TcpConn | undefined;
    const timer = setTimeout(() => conn?.close(), timeoutMs);
    try {
      conn = await withTimeout(Deno.connect({ hostname: "127.0.0.1", port }), timeoutMs);
      await conn.write(
        encoder.encode(
          `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: tenement-health\r\nConnection: close\r\n\r\n`,
        ),
      );
      const buf = new Uint8Array(512);
      let text = "";
      while (!text.includes("\r\n")) {
        const count = await conn.read(buf);
        if (count === null) break;
        text += decoder.decode(buf.subarray(0, count));
        if (text.length > 4096) break;
      }
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      if (!match) {
        return { isPass: false, detail: "no HTTP status line in the response", isRefused: false };
      }
      const status = Number(match[1]);
      return { isPass: status >= 200 && status < 300, detail: `HTTP ${status}`, isRefused: false };
    } catch (err: unknown) {
      return failure(err, timeoutMs);
    } finally {
      clearTimeout(timer);
      try {
        conn?.close();
      } catch {
        // Already closed by the timeout.
      }
    }
  }
}

/** True when nothing listens on 127.0.0.1:port and we could bind it. */
export function isPortFree(port: number): Promise<boolean> {
  try {
    const listener = Deno.listen({ hostname: "127.0.0.1", port });
    listener.close();
    return Promise.resolve(true);
  } catch {
    return Promise.resolve(false);
  }
}

async function withTimeout<T extends Deno.Conn>(
  connecting: Promise<T>,
  timeoutMs: number,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      connecting,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          connecting.then((conn) => conn.close(), () => {});
          reject(new Deno.errors.TimedOut(`timed out after ${timeoutMs} ms`));
        }, timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function failure(err: unknown, timeoutMs: number): ProbeOutcome {
  return {
    isPass: false,
    detail: describe(err, timeoutMs),
    isRefused: err instanceof Deno.errors.ConnectionRefused,
  };
}

function describe(err: unknown, timeoutMs: number): string {
  if (err instanceof Deno.errors.ConnectionRefused) return "connection refused";
  if (err instanceof Deno.errors.TimedOut) return `timed out after ${timeoutMs} ms`;
  if (err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) {
    return `timed out after ${timeoutMs} ms`;
  }
  return messageOf(err);
}
