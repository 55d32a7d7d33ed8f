import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import { CertStore, type IssuedCert } from "./cert_store.ts";

const CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";

function issued(names: string[], serial = "1"): IssuedCert {
  return {
    names,
    certPem: CERT.replace("MIIB", `MIIB${serial}`),
    keyPem: KEY,
    notBeforeMs: Date.parse("2026-11-01T00:00:00Z"),
    notAfterMs: Date.parse("2027-01-30T00:00:00Z"),
    issuer: "Pebble Intermediate CA",
  };
}

async function modeOf(path: string): Promise<number> {
  return (await Deno.stat(path)).mode! & 0o777;
}

async function withStoreDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "ten-certstore-" });
  try {
    await fn(`${tmp}/acme`);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

const INFO = { issuedAtMs: Date.parse("2026-11-01T00:01:00Z"), directoryUrl: "https://ca/dir" };

Deno.test("CertStore keeps directories at 0700 and files at 0600, whatever the umask", async () => {
  await withStoreDir(async (dir) => {
    const old = Deno.umask(0o000);
    try {
      const store = await CertStore.open(dir);
      await store.saveCert(issued(["*.notes.example.test", "notes.example.test"]), INFO);
      await store.saveAccountKey("https://127.0.0.1:14000/dir", KEY);
    } finally {
      Deno.umask(old);
    }
    const entry = `${dir}/certs/_wildcard.notes.example.test`;
    for (const d of [dir, `${dir}/certs`, `${dir}/accounts`, entry]) {
      equal(await modeOf(d), 0o700, d);
    }
    for (const f of ["fullchain.pem", "key.pem", "meta.json"]) {
      equal(await modeOf(`${entry}/${f}`), 0o600, f);
    }
    equal(await modeOf(`${dir}/accounts/127.0.0.1_14000_dir/account.key.pem`), 0o600);
  });
});

Deno.test("CertStore round-trips certificates, errors and account keys", async () => {
  await withStoreDir(async (dir) => {
    const store = await CertStore.open(dir);
    const cert = issued(["*.notes.example.test", "notes.example.test"]);
    await store.saveCert(cert, INFO);
    await store.saveError(["example.test"], {
      message: "DNS hook failed",
      atMs: Date.parse("2026-11-02T00:00:00Z"),
      failures: 3,
      nextAttemptMs: Date.parse("2026-11-02T00:04:00Z"),
    });
    await store.saveAccountKey("https://ca/dir", KEY);

    const reopened = await CertStore.open(dir);
    const { entries, problems } = await reopened.loadAll();
    deepEqual(problems, []);
    equal(entries.length, 2);
    const wildcard = entries.find((e) => e.names[0] === "*.notes.example.test");
    const failed = entries.find((e) => e.names[0] === "example.test");
    deepEqual(wildcard!.cert, cert);
    equal(wildcard!.issuedAtMs, INFO.issuedAtMs);
    equal(wildcard!.directoryUrl, "https://ca/dir");
    equal(wildcard!.lastError, undefined);
    equal(failed!.cert, undefined);
    deepEqual(failed!.names, ["example.test"]);
    equal(failed!.lastError, "DNS hook failed");
    equal(failed!.lastErrorAtMs, Date.parse("2026-11-02T00:00:00Z"));
    equal(failed!.failures, 3, "the backoff survives a restart");
    equal(failed!.nextAttemptMs, Date.parse("2026-11-02T00:04:00Z"));
    equal(wildcard!.failures, 0);
    equal(await reopened.loadAccountKey("https://ca/dir"), KEY);
    equal(await reopened.loadAccountKey("https://other/dir"), undefined);

    // An error on an issued certificate keeps the certificate; a new one clears the error.
    await store.saveError(cert.names, {
      message: "timeout",
      atMs: INFO.issuedAtMs + 1,
      failures: 1,
      nextAttemptMs: undefined,
    });
    const withError = (await store.loadAll()).entries.find((e) => e.names[0] === cert.names[0]);
    deepEqual(withError!.cert, cert);
    equal(withError!.lastError, "timeout");
    const renewed = issued(cert.names as string[], "2");
    await store.saveCert(renewed, INFO);
    const after = (await store.loadAll()).entries.find((e) => e.names[0] === cert.names[0]);
    deepEqual(after!.cert, renewed);
    equal(after!.lastError, undefined);
    equal(after!.failures, 0);

    // Forgetting removes an entry holding only an error, never one with a certificate.
    await store.forgetIfEmpty("example.test");
    await store.forgetIfEmpty(cert.names[0]!);
    deepEqual((await store.loadAll()).entries.map((e) => e.names[0]), [cert.names[0]]);
  });
});

Deno.test("CertStore writes atomically: no temp files are left, a rewrite replaces whole files", async () => {
  await withStoreDir(async (dir) => {
    const store = await CertStore.open(dir);
    for (let i = 0; i < 5; i++) await store.saveCert(issued(["a.example.test"], `${i}`), INFO);
    const names: string[] = [];
    for await (const item of Deno.readDir(`${dir}/certs/a.example.test`)) names.push(item.name);
    deepEqual(names.sort(), ["fullchain.pem", "key.pem", "meta.json"]);
    match(await Deno.readTextFile(`${dir}/certs/a.example.test/fullchain.pem`), /MIIB4\n/);
  });
});

Deno.test("CertStore reports a corrupt or partial entry, skips it and deletes nothing", async () => {
  await withStoreDir(async (dir) => {
    const store = await CertStore.open(dir);
    await store.saveCert(issued(["good.example.test"]), INFO);
    await store.saveCert(issued(["torn.example.test"]), INFO);
    await store.saveCert(issued(["garbled.example.test"]), INFO);
    await Deno.mkdir(`${dir}/certs/partial.example.test`);
    await Deno.writeTextFile(`${dir}/certs/partial.example.test/key.pem`, KEY);
    // A crash between the key and the chain: the chain no longer matches meta.json.
    await Deno.writeTextFile(`${dir}/certs/torn.example.test/fullchain.pem`, CERT);
    await Deno.writeTextFile(`${dir}/certs/garbled.example.test/meta.json`, "{not json");

    const { entries, problems } = await store.loadAll();
    deepEqual(entries.map((e) => e.names[0]), ["good.example.test"]);
    deepEqual(problems.map((p) => p.path.split("/").pop()).sort(), [
      "garbled.example.test",
      "partial.example.test",
      "torn.example.test",
    ]);
    ok(problems.every((p) => p.reason.length > 0));
    match(problems.find((p) => p.path.endsWith("torn.example.test"))!.reason, /does not match/);
    for (const name of ["torn", "garbled", "partial"]) {
      ok((await Deno.stat(`${dir}/certs/${name}.example.test/key.pem`)).isFile, name);
    }
  });
});

Deno.test("CertStore sets a damaged entry aside when a new certificate replaces it", async () => {
  await withStoreDir(async (dir) => {
    const store = await CertStore.open(dir);
    await Deno.mkdir(`${dir}/certs/a.example.test`);
    await Deno.writeTextFile(`${dir}/certs/a.example.test/meta.json`, "{broken");
    await store.saveCert(issued(["a.example.test"]), INFO);
    const { entries, problems } = await store.loadAll();
    deepEqual(problems, []);
    deepEqual(entries.map((e) => e.names[0]), ["a.example.test"]);
    const aside = `${dir}/certs/.damaged-a.example.test-${INFO.issuedAtMs}/meta.json`;
    equal(await Deno.readTextFile(aside), "{broken");
  });
});

Deno.test("CertStore follows no symbolic link inside the store: planted links are refused, their targets untouched", async () => {
  await withStoreDir(async (dir) => {
    const store = await CertStore.open(dir);
    const elsewhere = await Deno.makeTempDir({ prefix: "ten-elsewhere-" });
    try {
      await Deno.chmod(elsewhere, 0o755);
      await Deno.symlink(elsewhere, `${dir}/certs/a.example.test`);
      await rejects(store.saveCert(issued(["a.example.test"]), INFO), /symbolic link/);
      equal((await Deno.stat(elsewhere)).mode! & 0o777, 0o755, "the link's target was chmod-ed");
      deepEqual(await Array.fromAsync(Deno.readDir(elsewhere)), []);

      await store.saveCert(issued(["b.example.test"]), INFO);
      const key = `${dir}/certs/b.example.test/key.pem`;
      await Deno.remove(key);
      await Deno.symlink(`${elsewhere}/stolen.pem`, key);
      // The entry no longer matches its meta.json: it is set aside whole, the link not followed.
      await store.saveCert(issued(["b.example.test"], "2"), INFO);
      deepEqual(await Array.fromAsync(Deno.readDir(elsewhere)), []);
      equal((await Deno.lstat(key)).isFile, true);
    } finally {
      await Deno.remove(elsewhere, { recursive: true });
    }
  });
});

Deno.test("CertStore: a crash at any point of a renewal leaves the old certificate or the new one, never a torn entry", async () => {
  await withStoreDir(async (dir) => {
    const store = await CertStore.open(dir);
    const old = issued(["r.example.test"], "1");
    const fresh = issued(["r.example.test"], "2");
    await store.saveCert(old, INFO);
    const entry = `${dir}/certs/r.example.test`;
    const files = async (): Promise<Record<string, string>> => {
      const out: Record<string, string> = {};
      for await (const item of Deno.readDir(entry)) {
        out[item.name] = await Deno.readTextFile(`${entry}/${item.name}`);
      }
      return out;
    };
    const oldFiles = await files();
    await store.saveCert(fresh, INFO);
    const freshFiles = await files();
    // The states a crash can leave, in the order saveCert writes.
    const states: [string, Record<string, string>, IssuedCert][] = [
      ["key.pem.next written", { ...oldFiles, "key.pem.next": freshFiles["key.pem"]! }, old],
      ["both .next written", {
        ...oldFiles,
        "key.pem.next": freshFiles["key.pem"]!,
        "fullchain.pem.next": freshFiles["fullchain.pem"]!,
      }, old],
      ["meta.json committed", {
        ...oldFiles,
        "meta.json": freshFiles["meta.json"]!,
        "key.pem.next": freshFiles["key.pem"]!,
        "fullchain.pem.next": freshFiles["fullchain.pem"]!,
      }, fresh],
      ["key.pem renamed", {
        ...oldFiles,
        "meta.json": freshFiles["meta.json"]!,
        "key.pem": freshFiles["key.pem"]!,
        "fullchain.pem.next": freshFiles["fullchain.pem"]!,
      }, fresh],
    ];
    for (const [what, state, expected] of states) {
      await Deno.remove(entry, { recursive: true });
      await Deno.mkdir(entry);
      for (const [name, text] of Object.entries(state)) {
        await Deno.writeTextFile(`${entry}/${name}`, text);
      }
      const { entries, problems } = await store.loadAll();
      deepEqual(problems, [], what);
      deepEqual(entries[0]?.cert, expected, what);
    }
  });
});
