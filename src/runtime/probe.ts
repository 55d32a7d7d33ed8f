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

/** Connects to 127.0.0.1:port, or to the Unix socket `socketPath` when given. */
function connectTo(port: number, socketPath: string | undefined): Promise<Deno.Conn> {
  return socketPath === undefined
    ? Deno.connect({ hostname: "127.0.0.1", port })
    : Deno.connect({ transport: "unix", path: socketPath });
}

/** Probes instances on 127.0.0.1 (or on their Unix socket, for a sandbox without network). */
export class NetProber {
  /** Connects to 127.0.0.1:port (or `socketPath`) and closes again. */
  async tcp(port: number, timeoutMs: number, socketPath?: string): Promise<ProbeOutcome> {
    try {
      const conn = await withTimeout(connectTo(port, socketPath), timeoutMs);
      conn.close();
      return { isPass: true, detail: "connected", isRefused: false };
    } catch (err: unknown) {
      return failure(err, timeoutMs);
    }
  }

  /** GETs `path` on 127.0.0.1:port (or `socketPath`); passes on 2xx. */
  async http(
    port: number,
    path: string,
    timeoutMs: number,
    socketPath?: string,
  ): Promise<ProbeOutcome> {
    let conn: Deno.Conn | undefined;
    const timer = setTimeout(() => conn?.close(), timeoutMs);
    try {
      conn = await withTimeout(connectTo(port, socketPath), timeoutMs);
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
    // A Unix socket path with no file yet: nothing listens, as a refused port.
    isRefused: err instanceof Deno.errors.ConnectionRefused || err instanceof Deno.errors.NotFound,
  };
}

function describe(err: unknown, timeoutMs: number): string {
  if (err instanceof Deno.errors.ConnectionRefused) return "connection refused";
  if (err instanceof Deno.errors.NotFound) return "no socket file yet";
  if (err instanceof Deno.errors.TimedOut) return `timed out after ${timeoutMs} ms`;
  if (err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) {
    return `timed out after ${timeoutMs} ms`;
  }
  return messageOf(err);
}
