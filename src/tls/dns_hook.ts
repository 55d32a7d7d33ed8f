/**
 * DNS-01 through a user's hook executable: `HOOK set FQDN VALUE` before validation and
 * `HOOK unset FQDN VALUE` after (FQDN is `_acme-challenge.{name}`, without a trailing dot). Each
 * run leads its own process group, is killed as a group at its timeout, and keeps only the tail
 * of its output; a failure names the hook, the exit code and the last stderr lines. An optional
 * propagation check polls DNS until the TXT value is visible.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { ChallengeSolver, SolverChallenge } from "./acme_issuer.ts";

const log = getLogger(["tenement", "tls"]);

/** Output kept per stream: the tail, so a chatty hook cannot grow memory. */
const MAX_OUTPUT_BYTES = 16 * 1024;
/** Lines of stderr quoted in a failure. */
const STDERR_LINES_QUOTED = 5;

/** The TXT record name of a DNS-01 challenge for `name`. */
export function challengeFqdn(name: string): string {
  return `_acme-challenge.${name.replace(/^\*\./, "").replace(/\.$/, "")}`;
}

/** Options of {@linkcode runDnsHook}. */
export interface RunHookOptions {
  /** Kill the hook's process group after this long. @default {60_000} */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** Collects the last `MAX_OUTPUT_BYTES` of a stream. */
async function tailOf(stream: ReadableStream<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    chunks.push(chunk);
    size += chunk.length;
    while (size > MAX_OUTPUT_BYTES && chunks.length > 1) size -= chunks.shift()!.length;
  }
  return new TextDecoder().decode(concat(chunks).subarray(-MAX_OUTPUT_BYTES));
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function killGroup(pgid: number): void {
  try {
    Deno.kill(-pgid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

/** Runs `hookPath action fqdn value`; throws an Error naming the hook on any failure. */
export async function runDnsHook(
  hookPath: string,
  args: readonly ["set" | "unset", string, string],
  options: RunHookOptions = {},
): Promise<void> {
  const { timeoutMs = 60_000, signal } = options;
  signal?.throwIfAborted();
  const what = `DNS hook "${hookPath}" ${args[0]} ${args[1]}`;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(hookPath, {
      args: [...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }).spawn();
  } catch (err: unknown) {
    throw new Error(`${what} failed: cannot start it: ${err instanceof Error ? err.message : err}`);
  }
  const pgid = child.pid;
  let reason = "";
  const onAbort = (): void => {
    reason = "aborted";
    killGroup(pgid);
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  const timer = setTimeout(() => {
    reason = `timed out after ${timeoutMs} ms`;
    killGroup(pgid);
  }, timeoutMs);
  const stdout = tailOf(child.stdout);
  const stderr = tailOf(child.stderr);
  try {
    const status = await child.status;
    // A grandchild left behind could hold the pipes open: end the group, then read what is there.
    killGroup(pgid);
    const [out, err] = await Promise.all([stdout, stderr]);
    if (out.trim() !== "") log.debug("{what}: {out}", { what, out: out.trim() });
    if (reason !== "") throw new Error(`${what} failed: ${reason}${quoted(err)}`);
    if (!status.success) {
      const how = status.signal === null ? `exit code ${status.code}` : `signal ${status.signal}`;
      throw new Error(`${what} failed: ${how}${quoted(err)}`);
    }
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

function quoted(stderr: string): string {
  const lines = stderr.trim().split("\n").filter((l) => l.trim() !== "");
  if (lines.length === 0) return "";
  return `: ${lines.slice(-STDERR_LINES_QUOTED).join(" | ")}`;
}

/** A name server to ask directly. */
export interface NameServer {
  readonly ipAddr: string;
  readonly port: number;
}

/** The DNS queries of the propagation check (Deno.resolveDns by default; tests pass fakes). */
export interface DnsLookup {
  /** TXT records of `fqdn`, each as its joined strings; from `server`, or the system resolver. */
  txt(fqdn: string, server: NameServer | undefined, signal?: AbortSignal): Promise<string[]>;
  /** NS host names of `name` (empty or a rejection when it is not a zone apex). */
  ns(name: string, signal?: AbortSignal): Promise<string[]>;
  /** IPv4 and IPv6 addresses of `host`. */
  addresses(host: string, signal?: AbortSignal): Promise<string[]>;
}

/** {@linkcode DnsLookup} through `Deno.resolveDns`. */
export const systemDnsLookup: DnsLookup = {
  async txt(fqdn, server, signal) {
    const records = await Deno.resolveDns(fqdn, "TXT", {
      ...(server === undefined ? {} : { nameServer: server }),
      ...(signal === undefined ? {} : { signal }),
    });
    return records.map((parts) => parts.join(""));
  },
  ns: (name, signal) => Deno.resolveDns(name, "NS", signal === undefined ? {} : { signal }),
  async addresses(host, signal) {
    const options = signal === undefined ? {} : { signal };
    const found = await Promise.allSettled([
      Deno.resolveDns(host, "A", options),
      Deno.resolveDns(host, "AAAA", options),
    ]);
    return found.flatMap((r) => r.status === "fulfilled" ? r.value : []);
  },
};

/**
 * The authoritative name servers of the zone holding `fqdn`: NS records looked up from the
 * parent of `fqdn` upwards (the first name that has some is the zone apex). Empty when none is
 * found (then the system resolver is asked).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * const lookup = {
 *   txt: () => Promise.resolve([]),
 *   ns: (name: string) => Promise.resolve(name === "example.com" ? ["ns1.dns.test"] : []),
 *   addresses: () => Promise.resolve(["192.0.2.53"]),
 * };
 * deepEqual(await authoritativeServers("_acme-challenge.a.example.com", lookup), [
 *   { ipAddr: "192.0.2.53", port: 53 },
 * ]);
 * ```
 */
export async function authoritativeServers(
  fqdn: string,
  lookup: DnsLookup,
  signal?: AbortSignal,
): Promise<NameServer[]> {
  const labels = fqdn.replace(/\.$/, "").split(".");
  for (let i = 1; i < labels.length - 1; i++) {
    const name = labels.slice(i).join(".");
    const hosts = await lookup.ns(name, signal).catch(() => [] as string[]);
    if (hosts.length === 0) continue;
    const addresses = await Promise.all(
      hosts.map((h) => lookup.addresses(h.replace(/\.$/, ""), signal).catch(() => [])),
    );
    const servers = [...new Set(addresses.flat())].map((ipAddr) => ({ ipAddr, port: 53 }));
    if (servers.length > 0) return servers;
  }
  return [];
}

/** Options of {@linkcode waitForTxt}. */
export interface PropagationOptions {
  /** @default {120_000} */
  readonly timeoutMs?: number;
  /** @default {2_000} */
  readonly intervalMs?: number;
  readonly signal?: AbortSignal;
  /** @default {systemDnsLookup} */
  readonly lookup?: DnsLookup;
}

/**
 * Polls DNS until `fqdn` has a TXT record `value`; throws at the timeout. It asks the zone's
 * authoritative name servers directly, and waits until every one of them answers the value (a
 * caching resolver could keep a negative answer, or the first of two values on a shared
 * `_acme-challenge` name, for the record's TTL); without any found, the system resolver.
 */
export async function waitForTxt(
  fqdn: string,
  value: string,
  options: PropagationOptions = {},
): Promise<void> {
  const { timeoutMs = 120_000, intervalMs = 2_000, signal, lookup = systemDnsLookup } = options;
  const deadline = Date.now() + timeoutMs;
  const found = await authoritativeServers(fqdn, lookup, signal);
  let servers: (NameServer | undefined)[] = found.length > 0 ? found : [undefined];
  let isFirstRound = true;
  log.debug("Checking {fqdn} at {servers}", {
    fqdn,
    servers: found.length > 0 ? found.map((s) => s.ipAddr).join(", ") : "the system resolver",
  });
  let last = "no answer yet";
  for (;;) {
    signal?.throwIfAborted();
    let unreachable = 0;
    const answers = await Promise.all(servers.map(async (server) => {
      const at = server === undefined ? "" : ` at ${server.ipAddr}`;
      try {
        const records = await lookup.txt(fqdn, server, signal);
        return records.includes(value) ? "" : `${records.length} other TXT record(s)${at}`;
      } catch (err: unknown) {
        unreachable++;
        return `${err instanceof Error ? err.message : String(err)}${at}`;
      }
    }));
    signal?.throwIfAborted();
    if (isFirstRound && found.length > 0 && unreachable === servers.length) {
      // No authoritative server answers from here (blocked port 53): the system resolver it is.
      log.warn(
        "No authoritative name server of {fqdn} answers; checking with the system resolver",
        {
          fqdn,
        },
      );
      servers = [undefined];
      isFirstRound = false;
      continue;
    }
    isFirstRound = false;
    const missing = answers.filter((a) => a !== "");
    if (missing.length === 0) return;
    last = missing.join("; ");
    if (Date.now() >= deadline) {
      throw new Error(`The TXT record ${fqdn} did not show up within ${timeoutMs} ms (${last})`);
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, intervalMs);
      function done(): void {
        clearTimeout(t);
        signal?.removeEventListener("abort", done);
        resolve();
      }
      signal?.addEventListener("abort", done, { once: true });
    });
  }
}

/** Options of {@linkcode createDnsHookSolver}. */
export interface DnsHookSolverOptions {
  readonly hookPath: string;
  /** Per hook run. @default {60_000} */
  readonly hookTimeoutMs?: number;
  /** Wait until the TXT record resolves before asking for validation. @default {true} */
  readonly isPropagationChecked?: boolean;
  readonly propagationTimeoutMs?: number;
}

/** A DNS-01 solver that sets and unsets TXT records through the hook. */
export function createDnsHookSolver(options: DnsHookSolverOptions): ChallengeSolver {
  const hookTimeoutMs = options.hookTimeoutMs ?? 60_000;
  return {
    kind: "dns-01",
    async present(challenge: SolverChallenge, signal: AbortSignal): Promise<void> {
      const fqdn = challengeFqdn(challenge.name);
      await runDnsHook(options.hookPath, ["set", fqdn, challenge.keyAuthorization], {
        timeoutMs: hookTimeoutMs,
        signal,
      });
      if (options.isPropagationChecked ?? true) {
        await waitForTxt(fqdn, challenge.keyAuthorization, {
          signal,
          ...(options.propagationTimeoutMs === undefined
            ? {}
            : { timeoutMs: options.propagationTimeoutMs }),
        });
      }
    },
    async cleanup(challenge: SolverChallenge, signal: AbortSignal): Promise<void> {
      await runDnsHook(
        options.hookPath,
        ["unset", challengeFqdn(challenge.name), challenge.keyAuthorization],
        { timeoutMs: hookTimeoutMs, signal },
      );
    },
  };
}
