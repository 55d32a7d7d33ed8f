/**
 * Built-in HTTPS through a real `ten serve` and a real ACME server (Debian's pebble, with
 * pebble-challtestsrv as its DNS): certificates obtained by DNS-01 through a hook (wildcards per
 * service) and by HTTP-01 on demand, served to curl trusting only pebble's root; the HTTP port's
 * redirect; `ten certs` and the expiry metric; a restart with the CA down; renewal.
 * @module
 */
import { deepEqual, equal, match, ok } from "node:assert/strict";
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
      const res = await curl(`https://bob.notes.${DOMAIN}:${ports.https}/`, root);
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
