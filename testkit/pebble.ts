/**
 * A throwaway ACME server for tests: Debian's `pebble` with `pebble-challtestsrv` as its DNS
 * (every A query answers 127.0.0.1, TXT records are set over its management API). Makes a tiny
 * CA and a CA-signed leaf (CA:FALSE, SAN localhost and 127.0.0.1: rustls rejects CA:TRUE leaves)
 * for pebble's own HTTPS with openssl, picks free ports, runs both in their own process groups
 * and stops them by group. Pebble keeps its state (and its issuing root) in memory: a restart
 * forgets accounts and makes a new root.
 * @module
 */
import { freePort } from "./raw_http.ts";
import { type GroupProcess, startGroup } from "./process_groups.ts";
import { createTestCa, type TestCa } from "./test_ca.ts";
import { tempDir } from "./temp_dir.ts";
import { waitFor } from "./wait.ts";

/** Options of {@linkcode startPebble}. */
export interface PebbleOptions {
  /** The port pebble's HTTP-01 validation connects to on 127.0.0.1. */
  readonly httpPort: number;
  /** Lifetime of issued certificates in seconds. @default {pebble's 5 years} */
  readonly validitySeconds?: number;
}

/** A running pebble; dispose stops it and removes its files. */
export interface Pebble extends AsyncDisposable {
  /** The ACME directory URL (`https://127.0.0.1:PORT/dir`). */
  readonly directoryUrl: string;
  /** The PEM root that signed pebble's own HTTPS certificate (trust it for the ACME server). */
  readonly acmeCaPem: string;
  /** challtestsrv's management API (`/set-txt`, `/clear-txt`). */
  readonly challtestsrvUrl: string;
  /** The root every issued certificate chains to (changes when pebble restarts). */
  issuingRoot(): Promise<string>;
  /** pebble's log so far (for failure messages). */
  log(): Promise<string>;
  /** Stops pebble (challtestsrv stays up); `start()` brings it back on the same ports. */
  stopCa(): Promise<void>;
  /** Starts pebble again after `stopCa()` (a fresh CA with no accounts). */
  startCa(): Promise<void>;
  /** Stops both processes. */
  stop(): Promise<void>;
}

async function isInstalled(program: string): Promise<boolean> {
  const out = await new Deno.Command("sh", { args: ["-c", `command -v ${program}`] }).output();
  return out.success;
}

/** Runs `argv` in its own group with stdout and stderr appended to `logPath`. */
function startLogged(
  argv: readonly string[],
  logPath: string,
  env: Record<string, string> = {},
): GroupProcess {
  return startGroup(
    ["sh", "-c", 'log=$1; shift; exec "$@" >>"$log" 2>&1', "sh", logPath, ...argv],
    { env },
  );
}

/** Starts pebble and challtestsrv; fails (never skips) when pebble is not installed. */
export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  for (const program of ["pebble", "pebble-challtestsrv", "openssl"]) {
    if (!(await isInstalled(program))) {
      throw new Error(
        `${program} is not installed: run scripts/install-prereqs.sh (Debian: apt-get install pebble openssl)`,
      );
    }
  }
  const tmp = await tempDir("ten-pebble-");
  const dir = tmp.path;
  const groups: GroupProcess[] = [];
  let pebble: GroupProcess | undefined;
  let client: Deno.HttpClient | undefined;
  let ca: TestCa | undefined;
  try {
    // pebble's own HTTPS certificate: a CA-signed leaf (rustls and node reject CA:TRUE leaves).
    ca = await createTestCa();
    const leaf = await ca.issue(["localhost", "127.0.0.1"], "pebble");
    const acmeCaPem = ca.caCert;
    const [acmePort, mgmtPort, tlsPort, dnsPort, challMgmtPort] = [
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ];
    const config = {
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${mgmtPort}`,
        certificate: leaf.certPath,
        privateKey: leaf.keyPath,
        httpPort: options.httpPort,
        tlsPort,
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
        ...(options.validitySeconds === undefined
          ? {}
          : { certificateValidityPeriod: options.validitySeconds }),
      },
    };
    await Deno.writeTextFile(`${dir}/pebble-config.json`, JSON.stringify(config, null, 2));
    const challtestsrvUrl = `http://127.0.0.1:${challMgmtPort}`;
    groups.push(startLogged([
      "pebble-challtestsrv",
      "-dns01",
      `127.0.0.1:${dnsPort}`,
      "-http01",
      "",
      "-https01",
      "",
      "-tlsalpn01",
      "",
      "-management",
      `127.0.0.1:${challMgmtPort}`,
      "-defaultIPv4",
      "127.0.0.1",
      "-defaultIPv6",
      "",
    ], `${dir}/challtestsrv.log`));
    const http = Deno.createHttpClient({ caCerts: [acmeCaPem] });
    client = http;
    const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
    const startCa = async (): Promise<void> => {
      pebble = startLogged(
        ["pebble", "-config", `${dir}/pebble-config.json`, "-dnsserver", `127.0.0.1:${dnsPort}`],
        `${dir}/pebble.log`,
        { PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0" },
      );
      groups.push(pebble);
      await waitFor(async () => (await fetch(directoryUrl, { client: http })).ok, {
        timeoutMs: 15_000,
        what: "pebble's directory",
      }).catch(async (err: unknown) => {
        throw new Error(`${err}\n${await Deno.readTextFile(`${dir}/pebble.log`).catch(() => "")}`);
      });
      await waitFor(async () => {
        await (await fetch(`${challtestsrvUrl}/`)).body?.cancel();
        return true;
      }, {
        timeoutMs: 10_000,
        what: "challtestsrv",
      });
    };
    const stopCa = async (): Promise<void> => {
      const p = pebble;
      pebble = undefined;
      if (p === undefined) return;
      await p.stop(1_000);
      groups.splice(groups.indexOf(p), 1);
    };
    await startCa();
    const stop = async (): Promise<void> => {
      await stopCa();
      for (const g of groups.splice(0)) await g.stop(1_000);
    };
    return {
      directoryUrl,
      acmeCaPem,
      challtestsrvUrl,
      issuingRoot: async () => {
        const res = await fetch(`https://127.0.0.1:${mgmtPort}/roots/0`, { client: http });
        if (!res.ok) throw new Error(`pebble /roots/0 answered ${res.status}`);
        return await res.text();
      },
      log: () => Deno.readTextFile(`${dir}/pebble.log`).catch(() => ""),
      stopCa,
      startCa,
      stop,
      [Symbol.asyncDispose]: async () => {
        await stop();
        http.close();
        await ca?.[Symbol.asyncDispose]();
        await tmp[Symbol.asyncDispose]();
      },
    };
  } catch (err: unknown) {
    if (pebble !== undefined && !groups.includes(pebble)) groups.push(pebble);
    for (const g of groups) await g.stop();
    client?.close();
    await ca?.[Symbol.asyncDispose]();
    await tmp[Symbol.asyncDispose]();
    throw err;
  }
}
