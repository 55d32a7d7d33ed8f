/**
 * Built-in HTTPS through a real `ten serve` and a real ACME server (Debian's pebble, with
 * pebble-challtestsrv as its DNS): certificates obtained by DNS-01 through a hook (wildcards per
 * service) and by HTTP-01 on demand, served to curl trusting only pebble's root; the HTTP port's
 * redirect; `ten certs` and the expiry metric; a restart with the CA down; renewal.
 * @module
 */
import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import {
  FIXTURES,
  freePort,
  okService,
  type Pebble,
  settingsBlock,
  startDaemon,
  startPebble,
  tempDir,
  waitFor,
} from "../testkit/mod.ts";
import type { CertsResponse } from "../src/api/wire.ts";
import type { TlsPlan } from "../src/config/tls_plan.ts";
import { startHttps } from "../src/daemon/https.ts";
import type { FrontServer } from "../src/proxy/front_server.ts";
import { CertStore } from "../src/tls/cert_store.ts";
import type { SniResolver } from "../src/tls/tls_types.ts";

const DOMAIN = "example.test";

interface Ports {
  readonly https: number;
  readonly http: number;
}

/** `[settings.tls]` pointing at pebble. */
async function tlsBlock(
  dir: string,
  pebble: Pebble,
  ports: Ports,
  extra: Record<string, string | boolean> = {},
): Promise<string> {
  const ca = `${dir}/pebble-ca.pem`;
  await Deno.writeTextFile(ca, pebble.acmeCaPem);
  const lines = Object.entries({
    enabled: true,
    acme_email: "ops@example.com",
    domain: DOMAIN,
    https_port: ports.https,
    http_port: ports.http,
    acme_directory: pebble.directoryUrl,
    acme_ca_cert: ca,
    ...extra,
  }).map(([key, value]) => `${key} = ${JSON.stringify(value)}`);
  return `\n[settings.tls]\n${lines.join("\n")}\n`;
}

interface CurlResult {
  readonly code: number;
  readonly status: number;
  readonly body: string;
  readonly location: string;
  readonly stderr: string;
  /** The served leaf's serial (from curl's certinfo), when a TLS handshake completed. */
  readonly serial: string;
}

/** curl to `url` with `host` resolved to 127.0.0.1, trusting only `rootPem` for HTTPS. */
async function curl(url: string, rootPath?: string): Promise<CurlResult> {
  const host = new URL(url).hostname;
  const port = new URL(url).port;
  const out = await new Deno.Command("curl", {
    args: [
      "-sS",
      "--max-time",
      "60",
      "--resolve",
      `${host}:${port}:127.0.0.1`,
      ...(rootPath === undefined ? [] : ["--cacert", rootPath, "--capath", "/nonexistent"]),
      "-w",
      "\n%{http_code} %{redirect_url}\n%{certs}",
      url,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const marker = /\n(\d{3}) ([^\n]*)\n/.exec(text);
  const body = marker === null ? text : text.slice(0, marker.index);
  return {
    code: out.code,
    status: marker === null ? 0 : Number(marker[1]),
    location: marker?.[2] ?? "",
    body,
    stderr: new TextDecoder().decode(out.stderr),
    serial: /Serial Number:\s*([0-9a-fA-F:]+)/.exec(text)?.[1] ?? "",
  };
}

async function certsOf(
  d: { ten(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> },
): Promise<CertsResponse> {
  const res = await d.ten(["certs", "--json"]);
  equal(res.code, 0, res.stderr);
  return JSON.parse(res.stdout) as CertsResponse;
}

Deno.test("ten serve with a DNS hook: wildcard certificates per service, HTTPS to tenants, redirect, ten certs, metric, restart with the CA down", async (t) => {
  await using tmp = await tempDir("ten-tls-");
  const ports = { https: freePort(), http: freePort() };
  await using pebble = await startPebble({ httpPort: ports.http });
  const root = `${tmp.path}/root.pem`;
  await Deno.writeTextFile(root, await pebble.issuingRoot());
  const config = settingsBlock() +
    await tlsBlock(tmp.path, pebble, ports, {
      dns_hook: `${FIXTURES}/dns_hook_challtestsrv.sh`,
      dns_propagation_check: false,
    }) + okService("notes");
  await using d = await startDaemon({
    dir: tmp.path,
    config,
    env: { TEN_TEST_CHALLTESTSRV: pebble.challtestsrvUrl },
  });

  await t.step("the domain's and the service's certificates are obtained by DNS-01", async () => {
    const certs = await waitFor(async () => {
      const answer = await certsOf(d);
      return answer.certificates.length === 2 &&
        answer.certificates.every((cert) => cert.not_after !== null) && answer;
    }, { timeoutMs: 90_000, intervalMs: 500, what: "two issued certificates" });
    equal(certs.enabled, true);
    equal(certs.domain, DOMAIN);
    deepEqual(certs.certificates.map((cert) => [cert.names, cert.challenge, cert.last_error]), [
      [["*.notes.example.test", "notes.example.test"], "dns-01", null],
      [["example.test"], "dns-01", null],
    ]);
  });

  await t.step(
    "https://alice.notes.example.test reaches notes:alice, verified against pebble's root",
    async () => {
      const res = await curl(`https://alice.notes.${DOMAIN}:${ports.https}/`, root);
      equal(res.code, 0, res.stderr);
      equal(res.status, 200, res.body);
      match(res.body, /notes:alice|alice/);
      // The service's own name is on the same certificate (its request-created tenant has
      // weight 0, so the weighted route answers 503, over a verified connection).
      const weighted = await curl(`https://notes.${DOMAIN}:${ports.https}/health`, root);
      equal(weighted.code, 0, weighted.stderr);
      equal(weighted.status, 503);
      // The bare domain is tenement's own host: the API over HTTPS.
      const health = await curl(`https://${DOMAIN}:${ports.https}/health`, root);
      equal(health.status, 200, health.stderr);
      // A name the config does not cover gets no certificate: the handshake fails.
      const blog = await curl(`https://blog.${DOMAIN}:${ports.https}/`, root);
      ok(blog.code !== 0, "a handshake for an uncovered name succeeded");
    },
  );

  await t.step("plain HTTP redirects to HTTPS with 308, keeping host, path and query", async () => {
    const res = await curl(`http://alice.notes.${DOMAIN}:${ports.http}/a/b?c=1&d=2`);
    equal(res.status, 308);
    equal(res.location, `https://alice.notes.${DOMAIN}:${ports.https}/a/b?c=1&d=2`);
  });

  await t.step("ten certs prints the table; /metrics has each certificate's expiry", async () => {
    const res = await d.ten(["certs"]);
    equal(res.code, 0, res.stderr);
    const lines = res.stdout.trim().split("\n");
    match(lines[0]!, /^NAMES\s+CHALLENGE\s+ISSUER\s+NOT AFTER\s+NEXT RENEWAL$/);
    match(lines[1]!, /^\*\.notes\.example\.test,notes\.example\.test\s+dns-01\s+Pebble/);
    const metrics = { body: await d.metrics() };
    const expiry = metrics.body.split("\n").filter((line) =>
      line.startsWith("tenement_tls_certificate_expiry_timestamp_seconds{")
    );
    equal(expiry.length, 2, metrics.body);
  });

  await t.step(
    "a restart with the ACME server down serves HTTPS from the stored certificates",
    async () => {
      await pebble.stopCa();
      await d.stop();
      await d.start();
      // The plain listener is announced before the HTTPS one is bound: wait for the latter.
      const res = await waitFor(async () => {
        const answer = await curl(`https://bob.notes.${DOMAIN}:${ports.https}/`, root);
        return answer.code !== 7 && answer; // 7: could not connect
      }, { timeoutMs: 10_000, intervalMs: 100, what: "the HTTPS listener after the restart" });
      equal(res.code, 0, res.stderr);
      equal(res.status, 200);
      const certs = await certsOf(d);
      ok(certs.certificates.every((cert) => cert.last_error === null), JSON.stringify(certs));
    },
  );
});

Deno.test("ten serve without a DNS hook: a tenant's certificate is obtained by HTTP-01 at its first handshake, refused names get none, and it renews", async (t) => {
  await using tmp = await tempDir("ten-tls-");
  const ports = { https: freePort(), http: freePort() };
  await using pebble = await startPebble({ httpPort: ports.http, validitySeconds: 45 });
  const root = `${tmp.path}/root.pem`;
  await Deno.writeTextFile(root, await pebble.issuingRoot());
  const config = settingsBlock() + await tlsBlock(tmp.path, pebble, ports) +
    okService("notes", { auto_create_allow: ["alice", "bob"] });
  await using d = await startDaemon({ dir: tmp.path, config });
  let firstSerial = "";

  await t.step(
    "the first HTTPS request for alice waits for its certificate and is served",
    async () => {
      equal((await certsOf(d)).certificates.length, 0);
      const res = await curl(`https://alice.notes.${DOMAIN}:${ports.https}/`, root);
      equal(res.code, 0, res.stderr);
      equal(res.status, 200);
      firstSerial = res.serial;
      const certs = await certsOf(d);
      deepEqual(certs.certificates.map((cert) => [cert.names, cert.challenge]), [
        [["alice.notes.example.test"], "http-01"],
      ]);
    },
  );

  await t.step(
    "names auto_create does not allow, or outside the config, get no certificate",
    async () => {
      for (const name of [`mallory.notes.${DOMAIN}`, `x.nosvc.${DOMAIN}`, "other.test"]) {
        const res = await curl(`https://${name}:${ports.https}/`, root);
        ok(res.code !== 0, `${name} got a certificate`);
      }
      deepEqual((await certsOf(d)).certificates.map((cert) => cert.names[0]), [
        `alice.notes.${DOMAIN}`,
      ]);
    },
  );

  await t.step(
    "it is renewed at two thirds of its lifetime; new handshakes get the new one",
    async () => {
      const before = (await certsOf(d)).certificates[0]!.not_after;
      const renewed = await waitFor(async () => {
        const cert = (await certsOf(d)).certificates[0]!;
        return cert.not_after !== before && cert;
      }, { timeoutMs: 60_000, intervalMs: 1000, what: "a renewed certificate" });
      equal(renewed.last_error, null);
      const res = await waitFor(async () => {
        const answer = await curl(`https://alice.notes.${DOMAIN}:${ports.https}/`, root);
        return answer.status === 200 && answer.serial !== firstSerial && answer;
      }, { timeoutMs: 10_000, intervalMs: 200, what: "the renewed certificate served" });
      ok(res.serial !== "");
    },
  );
});

Deno.test("ten serve without a DNS hook and an open auto_create: made-up ids get no certificate and place no order; a spawned instance and an allow-listed id get one; the ask endpoint agrees", async (t) => {
  await using tmp = await tempDir("ten-tls-");
  const ports = { https: freePort(), http: freePort() };
  await using pebble = await startPebble({ httpPort: ports.http });
  const root = `${tmp.path}/root.pem`;
  await Deno.writeTextFile(root, await pebble.issuingRoot());
  const config = settingsBlock() + await tlsBlock(tmp.path, pebble, ports) + okService("notes") +
    okService("wiki", { auto_create_allow: ["alice"] });
  await using d = await startDaemon({ dir: tmp.path, config });
  const asked = async (name: string): Promise<number> =>
    (await d.request("127.0.0.1", `/api/tls/ask?domain=${name}`)).status;

  await t.step("handshakes for random ids are refused at once, without an order", async () => {
    for (const id of ["r1", "r2", "r3", "r4"]) {
      const started = performance.now();
      const res = await curl(`https://${id}.notes.${DOMAIN}:${ports.https}/`, root);
      ok(res.code !== 0, `${id} got a certificate`);
      ok(performance.now() - started < 10_000, `${id} was not refused at once`);
      equal(await asked(`${id}.notes.${DOMAIN}`), 404);
    }
    equal((await certsOf(d)).certificates.length, 0);
    equal(/r\d\.notes/.test(await pebble.log()), false, "an order for a random id reached pebble");
    equal((await d.instances()).length, 0, "a handshake created an instance");
  });

  await t.step("an instance made with ten spawn gets its certificate", async () => {
    const spawned = await d.ten(["spawn", "notes", "--id", "carol"]);
    equal(spawned.code, 0, spawned.stderr);
    equal(await asked(`carol.notes.${DOMAIN}`), 200);
    const res = await curl(`https://carol.notes.${DOMAIN}:${ports.https}/`, root);
    equal(res.code, 0, res.stderr);
    equal(res.status, 200);
  });

  await t.step("an id on auto_create_allow gets one before it exists", async () => {
    equal(await asked(`alice.wiki.${DOMAIN}`), 200);
    equal(await asked(`bob.wiki.${DOMAIN}`), 404);
    const res = await curl(`https://alice.wiki.${DOMAIN}:${ports.https}/`, root);
    equal(res.code, 0, res.stderr);
    equal(res.status, 200);
    deepEqual((await certsOf(d)).certificates.map((cert) => cert.names[0]), [
      `alice.wiki.${DOMAIN}`,
      `carol.notes.${DOMAIN}`,
    ]);
  });
});

/** The HTTPS side's plan for `storeDir`, with a directory URL nothing answers at. */
function planOf(storeDir: string): TlsPlan {
  return {
    email: "ops@example.com",
    domain: DOMAIN,
    directoryUrl: `https://127.0.0.1:${freePort()}/dir`,
    acmeCaCert: undefined,
    dnsHook: undefined,
    dnsPropagationCheck: false,
    httpsPort: freePort(),
    httpPort: freePort(),
    storeDir,
  };
}

/** A stand-in front that records the resolver it was given and its listener replacements. */
class FakeFront {
  resolver: SniResolver | undefined;
  reloads = 0;
  start = (_port: number, resolver: SniResolver): FrontServer => {
    this.resolver = resolver;
    return {
      addr: { transport: "tcp", hostname: "127.0.0.1", port: 0 },
      openConnections: 0,
      shutdown: () => Promise.resolve(),
      closeUpstream: () => {},
      reloadCertificates: () => Promise.resolve(void this.reloads++),
      [Symbol.asyncDispose]: () => Promise.resolve(),
    };
  };
}

Deno.test("the HTTPS side serves stored certificates before instances are restored, and refreshes cached refusals only for names that may change", async () => {
  await using tmp = await tempDir("ten-tls-");
  const storeDir = `${tmp.path}/acme`;
  const store = await CertStore.open(storeDir);
  const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  await store.saveCert({
    names: [`*.notes.${DOMAIN}`, `notes.${DOMAIN}`],
    certPem: pem,
    keyPem: "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
    notBeforeMs: Date.now() - 60_000,
    notAfterMs: Date.now() + 86_400_000,
    issuer: "Test CA",
  }, { issuedAtMs: Date.now(), directoryUrl: "https://ca.test/dir" });
  const front = new FakeFront();
  let restored = (): void => {};
  const ready = new Promise<void>((resolve) => restored = resolve);
  await using _https = await startHttps({
    plan: planOf(storeDir),
    hostname: "127.0.0.1",
    services: () => ["notes", "wiki"],
    mayObtainCertificate: () => false,
    ready,
    startFront: front.start,
  });
  const resolver = front.resolver!;
  // Instances are still being restored: a stored certificate is served at once all the same.
  const served = await Promise.race([
    resolver.resolve(`alice.notes.${DOMAIN}`),
    new Promise<undefined>((r) => setTimeout(() => r(undefined), 2_000)),
  ]);
  equal(served?.cert, pem, "the handshake waited for the instances");
  restored();
  // Scanners' foreign or invalid names change nothing...
  for (const name of ["scanner.example.org", "127.0.0.1", `x.nosvc.${DOMAIN}`]) {
    await rejects(resolver.resolve(name), /No certificate/);
  }
  await new Promise((r) => setTimeout(r, 100));
  equal(front.reloads, 0, "a foreign name made the front replace its listener");
  // ...an instance that may exist later does (once; further ones wait a minute).
  await rejects(resolver.resolve(`r1.wiki.${DOMAIN}`), /No certificate/);
  await waitFor(() => front.reloads === 1, { timeoutMs: 2_000, what: "a refresh" });
});

Deno.test("an unusable settings.tls.cache_dir is named in the error", async () => {
  await using tmp = await tempDir("ten-tls-");
  await Deno.writeTextFile(`${tmp.path}/file`, "");
  const front = new FakeFront();
  await rejects(
    startHttps({
      plan: planOf(`${tmp.path}/file/acme`),
      hostname: "127.0.0.1",
      services: () => [],
      mayObtainCertificate: () => false,
      ready: Promise.resolve(),
      startFront: front.start,
    }),
    (err: Error) => {
      equal(err.name, "TenementError");
      match(
        err.message,
        new RegExp(`^Cannot use settings\\.tls\\.cache_dir ${tmp.path}/file/acme`),
      );
      return true;
    },
  );
});
