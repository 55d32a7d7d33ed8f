/**
 * The certificate manager against a real ACME server (pebble, with challtestsrv as its DNS):
 * DNS-01 wildcards through a hook, HTTP-01 on demand, refusals that never reach the CA, a restart
 * that serves from disk with the CA down, renewal, a failing hook, and certificates that verify
 * against pebble's issuing root in a real TLS handshake.
 * @module
 */
import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import { createAcmeIssuer } from "../src/tls/acme_issuer.ts";
import { CertManager, type CertManagerOptions } from "../src/tls/cert_manager.ts";
import { CertStore } from "../src/tls/cert_store.ts";
import { createDnsHookSolver } from "../src/tls/dns_hook.ts";
import type { KeyPair } from "../src/tls/tls_types.ts";
import { FIXTURES, freePort, type Pebble, startPebble, tempDir, waitFor } from "../testkit/mod.ts";

const DOMAIN = "example.test";
const OK_HOOK = `${FIXTURES}/dns_hook_challtestsrv.sh`;
const FAIL_HOOK = `${FIXTURES}/dns_hook_fail.sh`;
const SNI_RESOLVER = Symbol.for("unstableSniResolver");
const SERVER_NAME = Symbol.for("unstableServerName");

function managerOptions(
  pebble: Pebble,
  storeDir: string,
  extra: Partial<CertManagerOptions> = {},
): CertManagerOptions {
  return {
    storeDir,
    directoryUrl: pebble.directoryUrl,
    acmeCaPem: pebble.acmeCaPem,
    email: "ops@example.test",
    domain: DOMAIN,
    services: () => ["notes"],
    isPropagationChecked: false,
    mayObtainCertificate: () => false,
    orderTimeoutMs: 30_000,
    onDemandTimeoutMs: 30_000,
    ...extra,
  };
}

/** Subject CN / SANs of a PEM chain's leaf, via openssl. */
async function leafText(pem: string): Promise<string> {
  const child = new Deno.Command("openssl", {
    args: ["x509", "-noout", "-subject", "-ext", "subjectAltName", "-dates"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(pem));
  await writer.close();
  const out = await child.output();
  return new TextDecoder().decode(out.stdout);
}

/**
 * A real TLS handshake: a `Deno.listenTls` that picks its certificate with `resolve`, and a
 * client that trusts only `root` and sends `serverName` as SNI. Resolves with what the server
 * wrote, or rejects with the client's TLS error.
 */
async function handshake(
  resolve: (sni: string) => Promise<KeyPair>,
  serverName: string,
  root: string,
): Promise<string> {
  const listener = Deno.listenTls(
    { hostname: "127.0.0.1", port: 0, [SNI_RESOLVER]: resolve } as unknown as
      & Deno.ListenTlsOptions
      & Deno.TlsCertifiedKeyPem,
  );
  const served = (async () => {
    const conn = await listener.accept();
    try {
      await conn.write(new TextEncoder().encode("hello over TLS"));
    } catch {
      // The client refused the certificate.
    } finally {
      conn.close();
    }
  })();
  try {
    const conn = await Deno.connectTls(
      {
        hostname: "127.0.0.1",
        port: listener.addr.port,
        caCerts: [root],
        [SERVER_NAME]: serverName,
      } as Deno.ConnectTlsOptions,
    );
    try {
      await conn.handshake();
      const buf = new Uint8Array(64);
      const n = await conn.read(buf);
      return new TextDecoder().decode(buf.subarray(0, n ?? 0));
    } finally {
      conn.close();
    }
  } finally {
    await served;
    listener.close();
  }
}

function readHookLog(path: string): Promise<string[]> {
  return Deno.readTextFile(path).then(
    (t) => t.trim().split("\n").filter((l) => l !== ""),
    () => [],
  );
}

Deno.test("DNS-01: a hook obtains the domain's and each service's wildcard certificate, served by SNI; a restart serves them from disk with the CA down", async (t) => {
  await using tmp = await tempDir("ten-acme-");
  await using pebble = await startPebble({ httpPort: freePort() });
  const hookLog = `${tmp.path}/hook.log`;
  Deno.env.set("TEN_TEST_CHALLTESTSRV", pebble.challtestsrvUrl);
  Deno.env.set("TEN_TEST_HOOK_LOG", hookLog);
  const storeDir = `${tmp.path}/acme`;
  let changes = 0;
  const root = await pebble.issuingRoot();

  await t.step("obtains the planned certificates in the background", async () => {
    await using manager = await CertManager.open(managerOptions(pebble, storeDir, {
      dnsHook: OK_HOOK,
      onCertificatesChanged: () => changes++,
    }));
    equal(manager.mode, "dns-01");
    const status = await waitFor(() => {
      const all = manager.status();
      return all.every((s) => s.notAfter !== undefined) && all;
    }, { timeoutMs: 60_000, what: "both certificates" });
    deepEqual(status.map((s) => s.names), [
      ["*.notes.example.test", "notes.example.test"],
      ["example.test"],
    ]);
    ok(status.every((s) => s.lastError === undefined && s.challenge === "dns-01"));
    ok(status.every((s) => s.nextAttempt !== undefined && s.issuer?.startsWith("Pebble")));
    equal(changes, 2);

    // The wildcard and its base share one TXT name: the hook saw them one after the other.
    const calls = (await readHookLog(hookLog)).map((l) => l.split(" ").slice(0, 2).join(" "));
    const notes = calls.filter((c) => c.endsWith("_acme-challenge.notes.example.test"));
    deepEqual(notes, [
      "set _acme-challenge.notes.example.test",
      "unset _acme-challenge.notes.example.test",
      "set _acme-challenge.notes.example.test",
      "unset _acme-challenge.notes.example.test",
    ]);

    match(await leafText((await manager.resolve("alice.notes.example.test")).cert), /\*\.notes/);
    match(await leafText((await manager.resolve("NOTES.example.test")).cert), /\*\.notes/);
    match(await leafText((await manager.resolve("example.test")).cert), /CN\s*=\s*example\.test/);
    match(await leafText((await manager.resolve("")).cert), /CN\s*=\s*example\.test/);
    await rejects(manager.resolve("blog.example.test"), /No certificate for "blog\.example\.test"/);
    await rejects(manager.resolve("x.alice.notes.example.test"), /No certificate/);

    // A client that trusts only pebble's issuing root accepts the served certificate.
    equal(
      await handshake((sni) => manager.resolve(sni), "alice.notes.example.test", root),
      "hello over TLS",
    );
    await rejects(handshake((sni) => manager.resolve(sni), "blog.example.test", root));
  });

  await t.step("a restart with the CA down serves from disk and orders nothing", async () => {
    await pebble.stopCa();
    const callsBefore = (await readHookLog(hookLog)).length;
    await using manager = await CertManager.open(managerOptions(pebble, storeDir, {
      dnsHook: OK_HOOK,
      onCertificatesChanged: () => changes++,
    }));
    match(await leafText((await manager.resolve("bob.notes.example.test")).cert), /\*\.notes/);
    equal(
      await handshake((sni) => manager.resolve(sni), "bob.notes.example.test", root),
      "hello over TLS",
    );
    // Nothing is due: no hook call, no new certificate, no error.
    await new Promise((r) => setTimeout(r, 300));
    equal((await readHookLog(hookLog)).length, callsBefore);
    equal(changes, 2);
    ok(manager.status().every((s) => s.lastError === undefined));
  });

  await t.step("a new service after replan() gets its certificate", async () => {
    await pebble.startCa();
    const services = ["notes"];
    await using manager = await CertManager.open(managerOptions(pebble, storeDir, {
      dnsHook: OK_HOOK,
      services: () => services,
      onCertificatesChanged: () => changes++,
    }));
    services.push("api");
    manager.replan();
    await waitFor(
      () => manager.status().find((s) => s.names[0] === "*.api.example.test")?.notAfter,
      { timeoutMs: 60_000, what: "the api certificate" },
    );
    match(await leafText((await manager.resolve("x.api.example.test")).cert), /\*\.api/);
    equal(changes, 3);
  });
  Deno.env.delete("TEN_TEST_HOOK_LOG");
});

Deno.test("HTTP-01 on demand: an allowed name is obtained while the handshake waits, once; refused names never reach the CA", async () => {
  await using tmp = await tempDir("ten-acme-");
  const httpPort = freePort();
  await using pebble = await startPebble({ httpPort });
  const asked: string[] = [];
  let changes = 0;
  await using manager = await CertManager.open(managerOptions(pebble, `${tmp.path}/acme`, {
    mayObtainCertificate: (service, id) => {
      asked.push(`${service}:${id}`);
      return id === "alice";
    },
    onCertificatesChanged: () => changes++,
  }));
  equal(manager.mode, "http-01");
  deepEqual(manager.status(), []);
  const validations: string[] = [];
  await using _responder = Deno.serve(
    { hostname: "127.0.0.1", port: httpPort, onListen: () => {} },
    (req) => {
      const token = new URL(req.url).pathname.replace("/.well-known/acme-challenge/", "");
      validations.push(req.headers.get("host") ?? "");
      const answer = manager.keyAuthorization(token);
      return answer === undefined
        ? new Response("unknown token", { status: 404 })
        : new Response(answer);
    },
  );

  const [first, second] = await Promise.all([
    manager.resolve("Alice.Notes.example.test"),
    manager.resolve("alice.notes.example.test"),
  ]);
  equal(first.cert, second.cert);
  equal(changes, 1);
  match(await leafText(first.cert), /DNS:alice\.notes\.example\.test/);
  ok(validations.length > 0 && validations.every((h) => h.startsWith("alice.notes.example.test")));
  equal(manager.keyAuthorization("anything"), undefined);
  const root = await pebble.issuingRoot();
  equal(
    await handshake((sni) => manager.resolve(sni), "alice.notes.example.test", root),
    "hello over TLS",
  );
  // A handshake for a name without a certificate waits while it is obtained.
  equal(
    await handshake((sni) => manager.resolve(sni), "notes.example.test", root),
    "hello over TLS",
  );
  equal(changes, 2);
  deepEqual(manager.status().map((s) => [s.challenge, ...s.names]), [
    ["http-01", "alice.notes.example.test"],
    ["http-01", "notes.example.test"],
  ]);

  // Refused: unknown instance, unknown service, foreign name, IP, empty.
  const before = asked.length;
  for (const name of ["bob.notes.example.test", "blog.example.test", "example.org", "127.0.0.1"]) {
    const started = performance.now();
    await rejects(manager.resolve(name), /No certificate/);
    ok(performance.now() - started < 1_000, `${name} was not refused at once`);
  }
  deepEqual(asked.slice(before), ["notes:bob"]);
  equal(manager.status().length, 2);
  const log = await pebble.log();
  equal(/bob\.notes|blog\.example|example\.org/.test(log), false, "a refused name reached pebble");
  equal(changes, 2);
});

Deno.test("renewal: at two thirds of the lifetime; a failed renewal keeps serving the old certificate and retries soon; the front is told", async () => {
  await using tmp = await tempDir("ten-acme-");
  await using pebble = await startPebble({ httpPort: freePort(), validitySeconds: 30 });
  Deno.env.set("TEN_TEST_CHALLTESTSRV", pebble.challtestsrvUrl);
  let changes = 0;
  await using manager = await CertManager.open(managerOptions(pebble, `${tmp.path}/acme`, {
    dnsHook: OK_HOOK,
    services: () => [],
    onCertificatesChanged: () => changes++,
  }));
  const first = await waitFor(() => manager.status().find((s) => s.notAfter !== undefined), {
    timeoutMs: 30_000,
    what: "the first certificate",
  });
  const firstPem = (await manager.resolve(DOMAIN)).cert;
  const notBefore = Date.parse(first.notBefore!);
  const lifetime = Date.parse(first.notAfter!) - notBefore;
  ok(Math.abs(Date.parse(first.nextAttempt!) - (notBefore + lifetime * 2 / 3)) < 1_000);

  // The CA is down when renewal is due: the error is recorded, the old certificate still served.
  await pebble.stopCa();
  const failed = await waitFor(() => manager.status().find((s) => s.lastError !== undefined), {
    timeoutMs: 40_000,
    what: "the failed renewal",
  });
  match(failed.lastError!, /Cannot reach the ACME server/);
  equal((await manager.resolve(DOMAIN)).cert, firstPem);
  equal(changes, 1);
  const retryIn = Date.parse(failed.nextAttempt!) - Date.parse(failed.lastErrorAt!);
  ok(retryIn > 0 && retryIn <= lifetime / 16 + 100, `retry in ${retryIn} ms`);

  await pebble.startCa();
  await waitFor(() => changes >= 2, { timeoutMs: 30_000, what: "the renewal" });
  const renewed = manager.status()[0]!;
  ok(Date.parse(renewed.notAfter!) > Date.parse(first.notAfter!));
  equal(renewed.lastError, undefined);
  const renewedPem = (await manager.resolve(DOMAIN)).cert;
  ok(renewedPem !== firstPem, "the renewed certificate is served");
});

Deno.test("a failing DNS hook records the error (kept across a restart) and backs off", async () => {
  await using tmp = await tempDir("ten-acme-");
  await using pebble = await startPebble({ httpPort: freePort() });
  const hookLog = `${tmp.path}/hook.log`;
  Deno.env.set("TEN_TEST_HOOK_LOG", hookLog);
  const storeDir = `${tmp.path}/acme`;
  try {
    {
      let changes = 0;
      await using manager = await CertManager.open(managerOptions(pebble, storeDir, {
        dnsHook: FAIL_HOOK,
        services: () => [],
        onCertificatesChanged: () => changes++,
      }));
      const failed = await waitFor(() => manager.status().find((s) => s.lastError !== undefined), {
        timeoutMs: 30_000,
        what: "the error",
      });
      match(failed.lastError!, /dns_hook_fail\.sh" set _acme-challenge\.example\.test failed/);
      match(failed.lastError!, /exit code 7: no such zone: _acme-challenge\.example\.test/);
      const retryIn = Date.parse(failed.nextAttempt!) - Date.parse(failed.lastErrorAt!);
      ok(retryIn >= 55_000 && retryIn <= 65_000, `retry in ${retryIn} ms`);
      equal(failed.notAfter, undefined);
      // Backing off: no second attempt right away.
      await new Promise((r) => setTimeout(r, 500));
      equal((await readHookLog(hookLog)).filter((l) => l.startsWith("set")).length, 1);
      equal(changes, 0);
      await rejects(manager.resolve(DOMAIN), /No certificate/);
    }
    // The error survives a restart (read here by a manager that obtains nothing in advance).
    {
      await using reopened = await CertManager.open(managerOptions(pebble, storeDir));
      const [kept] = reopened.status();
      match(kept?.lastError ?? "", /exit code 7/);
      ok(kept?.lastErrorAt !== undefined);
    }
    // So does the backoff: a restart (a restart loop) places no order before the next attempt.
    await using restarted = await CertManager.open(
      managerOptions(pebble, storeDir, { dnsHook: FAIL_HOOK, services: () => [] }),
    );
    const [waiting] = restarted.status();
    const retryIn = Date.parse(waiting!.nextAttempt!) - Date.parse(waiting!.lastErrorAt!);
    ok(retryIn >= 55_000 && retryIn <= 65_000, `retry in ${retryIn} ms after the restart`);
    await new Promise((r) => setTimeout(r, 500));
    equal((await readHookLog(hookLog)).filter((l) => l.startsWith("set")).length, 1);
  } finally {
    Deno.env.delete("TEN_TEST_HOOK_LOG");
  }
});

Deno.test("the ACME issuer names the real cause when the ACME server is unreachable or untrusted", async () => {
  await using tmp = await tempDir("ten-acme-");
  await using pebble = await startPebble({ httpPort: freePort() });
  const accounts = await CertStore.open(`${tmp.path}/acme`);
  const solver = createDnsHookSolver({ hookPath: FAIL_HOOK, isPropagationChecked: false });
  const closed = `https://127.0.0.1:${freePort()}/dir`;
  const refused = createAcmeIssuer({ directoryUrl: closed, accounts, caPem: pebble.acmeCaPem });
  await rejects(
    refused.issue([DOMAIN], solver, AbortSignal.timeout(20_000)),
    new RegExp(`Cannot reach the ACME server ${closed}: .*ECONNREFUSED`),
  );
  // Without pebble's CA, its HTTPS certificate is not trusted, and the error says so.
  const untrusted = createAcmeIssuer({ directoryUrl: pebble.directoryUrl, accounts });
  await rejects(
    untrusted.issue([DOMAIN], solver, AbortSignal.timeout(20_000)),
    /Cannot reach the ACME server .*(certificate|CERT)/i,
  );
});

Deno.test("a damaged certificate entry is skipped at open, kept on disk, and the rest is served", async () => {
  await using tmp = await tempDir("ten-acme-");
  const storeDir = `${tmp.path}/acme`;
  await Deno.mkdir(`${storeDir}/certs/example.test`, { recursive: true });
  await Deno.writeTextFile(`${storeDir}/certs/example.test/meta.json`, '{"v":1,"names":');
  await using manager = await CertManager.open({
    storeDir,
    directoryUrl: `https://127.0.0.1:${freePort()}/dir`,
    domain: DOMAIN,
    services: () => ["notes"],
    mayObtainCertificate: () => false,
  });
  deepEqual(manager.status(), []);
  await rejects(manager.resolve("bob.notes.example.test"), /No certificate/);
  equal(await Deno.readTextFile(`${storeDir}/certs/example.test/meta.json`), '{"v":1,"names":');
});

Deno.test("HTTP-01 on demand: a handshake waits only its bound; the order goes on and serves later handshakes", async () => {
  await using tmp = await tempDir("ten-acme-");
  const httpPort = freePort();
  await using pebble = await startPebble({ httpPort });
  let changes = 0;
  await using manager = await CertManager.open(managerOptions(pebble, `${tmp.path}/acme`, {
    onDemandTimeoutMs: 1,
    onCertificatesChanged: () => changes++,
  }));
  await using _responder = Deno.serve(
    { hostname: "127.0.0.1", port: httpPort, onListen: () => {} },
    (req) => {
      const token = new URL(req.url).pathname.replace("/.well-known/acme-challenge/", "");
      return new Response(manager.keyAuthorization(token) ?? "", { status: 200 });
    },
  );
  await rejects(manager.resolve("notes.example.test"), /still obtaining it after 1 ms/);
  await waitFor(() => changes === 1, { timeoutMs: 30_000, what: "the certificate" });
  match(await leafText((await manager.resolve("notes.example.test")).cert), /notes\.example\.test/);
});

/** Answers pebble's HTTP-01 validations on `port` from `manager`, unless `refuse(host)`. */
function serveChallenges(
  port: number,
  manager: () => CertManager,
  refuse: (host: string) => boolean = () => false,
): Deno.HttpServer {
  return Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, (req) => {
    const host = req.headers.get("host") ?? "";
    const token = new URL(req.url).pathname.replace("/.well-known/acme-challenge/", "");
    const answer = refuse(host) ? undefined : manager().keyAuthorization(token);
    return answer === undefined
      ? new Response("unknown token", { status: 404 })
      : new Response(answer);
  });
}

Deno.test("HTTP-01 on demand: at most onDemandPerHour new names an hour; a failed first order of a name no longer allowed is forgotten", async () => {
  await using tmp = await tempDir("ten-acme-");
  const httpPort = freePort();
  await using pebble = await startPebble({ httpPort });
  const storeDir = `${tmp.path}/acme`;
  const allowed = new Set(["a", "c", "b"]);
  await using manager = await CertManager.open(managerOptions(pebble, storeDir, {
    onDemandPerHour: 2,
    mayObtainCertificate: (_service, id) => allowed.has(id),
  }));
  // c's validation fails, and meanwhile its instance is removed.
  await using _responder = serveChallenges(httpPort, () => manager, (host) => {
    if (!host.startsWith("c.")) return false;
    allowed.delete("c");
    return true;
  });
  match(await leafText((await manager.resolve("a.notes.example.test")).cert), /DNS:a\.notes/);
  await rejects(manager.resolve("c.notes.example.test"), /No certificate for "c\.notes/);
  deepEqual(manager.status().map((s) => s.names[0]), ["a.notes.example.test"], "c is forgotten");
  await rejects(Deno.stat(`${storeDir}/certs/c.notes.example.test`), Deno.errors.NotFound);
  // Two new names this hour: a third is refused without reaching the CA.
  await rejects(
    manager.resolve("b.notes.example.test"),
    /2 new names were ordered in the last hour/,
  );
  equal(/b\.notes\.example\.test/.test(await pebble.log()), false, "b reached pebble");
  // Names already known are not new: a's certificate is still served.
  match(await leafText((await manager.resolve("a.notes.example.test")).cert), /DNS:a\.notes/);
});

Deno.test("HTTP-01 on demand: a certificate that cannot be saved is served from memory, not ordered again", async () => {
  await using tmp = await tempDir("ten-acme-");
  const httpPort = freePort();
  await using pebble = await startPebble({ httpPort });
  const storeDir = `${tmp.path}/acme`;
  let changes = 0;
  await using manager = await CertManager.open(managerOptions(pebble, storeDir, {
    mayObtainCertificate: () => true,
    onCertificatesChanged: () => changes++,
  }));
  await using _responder = serveChallenges(httpPort, () => manager);
  // Nothing can be written under certs/ (as if the disk were full).
  await Deno.remove(`${storeDir}/certs`, { recursive: true });
  await Deno.writeTextFile(`${storeDir}/certs`, "");
  const first = await manager.resolve("d.notes.example.test");
  match(await leafText(first.cert), /DNS:d\.notes/);
  equal((await manager.resolve("d.notes.example.test")).cert, first.cert);
  equal(changes, 1);
  const [status] = manager.status();
  equal(status?.lastError, undefined);
  ok(status?.notAfter !== undefined);
});

Deno.test("renewal: a renewal the gate refuses for now is looked at again later, not dropped", async () => {
  await using tmp = await tempDir("ten-acme-");
  const httpPort = freePort();
  await using pebble = await startPebble({ httpPort, validitySeconds: 15 });
  let isAllowed = true;
  let changes = 0;
  await using manager = await CertManager.open(managerOptions(pebble, `${tmp.path}/acme`, {
    mayObtainCertificate: () => isAllowed,
    onCertificatesChanged: () => changes++,
  }));
  await using _responder = serveChallenges(httpPort, () => manager);
  await manager.resolve("e.notes.example.test");
  const [first] = manager.status();
  const dueMs = Date.parse(first!.nextAttempt!);
  // The instance is gone when renewal is due: the renewal is skipped and planned again.
  isAllowed = false;
  await waitFor(() => {
    const next = manager.status()[0]?.nextAttempt;
    return next !== undefined && Date.parse(next) > dueMs;
  }, { timeoutMs: 20_000, what: "the skipped renewal planned again" });
  equal(changes, 1);
  // Back again: the next look renews it.
  isAllowed = true;
  await waitFor(() => changes === 2, { timeoutMs: 20_000, what: "the renewal" });
  ok(Date.parse(manager.status()[0]!.notAfter!) > Date.parse(first!.notAfter!));
});

Deno.test("the ACME issuer creates one account key when two first orders start together", async () => {
  let saves = 0;
  let stored: string | undefined;
  const accounts = {
    loadAccountKey: () => Promise.resolve(stored),
    saveAccountKey: async (_url: string, keyPem: string) => {
      saves++;
      await new Promise((r) => setTimeout(r, 50));
      stored = keyPem;
    },
  };
  const solver = createDnsHookSolver({ hookPath: FAIL_HOOK, isPropagationChecked: false });
  const closed = `https://127.0.0.1:${freePort()}/dir`;
  const issuer = createAcmeIssuer({ directoryUrl: closed, accounts });
  const results = await Promise.allSettled([
    issuer.issue(["a.example.test"], solver, AbortSignal.timeout(20_000)),
    issuer.issue(["b.example.test"], solver, AbortSignal.timeout(20_000)),
  ]);
  ok(results.every((r) => r.status === "rejected"), "the closed port answered");
  equal(saves, 1);
});

Deno.test("shutdown cuts a slow DNS hook clean-up short: dispose ends within seconds", async () => {
  await using tmp = await tempDir("ten-acme-");
  await using pebble = await startPebble({ httpPort: freePort() });
  const hook = `${tmp.path}/slow_unset.sh`;
  const hookLog = `${tmp.path}/hook.log`;
  // Sets nothing (validation fails at once), then takes 30 s to unset.
  await Deno.writeTextFile(
    hook,
    `#!/bin/sh\necho "$1" >> "${hookLog}"\n[ "$1" = unset ] && exec sleep 30\nexit 0\n`,
  );
  await Deno.chmod(hook, 0o755);
  const manager = await CertManager.open(managerOptions(pebble, `${tmp.path}/acme`, {
    dnsHook: hook,
    services: () => [],
    orderTimeoutMs: 60_000,
  }));
  try {
    await waitFor(async () => (await readHookLog(hookLog)).includes("unset"), {
      timeoutMs: 30_000,
      what: "the unset hook run",
    });
  } finally {
    const started = performance.now();
    await manager[Symbol.asyncDispose]();
    const tookMs = performance.now() - started;
    ok(tookMs < 5_000, `dispose took ${Math.round(tookMs)} ms`);
  }
});
