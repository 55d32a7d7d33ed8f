/**
 * API tokens against a real daemon: ids, kinds, labels and times in `ten token list` without
 * secrets, several admin tokens, revocation and expiry seen by the next request, tenant tokens
 * narrowed with `--services`, metrics tokens kept out of `/api`, the token file's and the data
 * dir's modes, and a state file from before token ids.
 * @module
 */
import { deepEqual, equal, match, notEqual, ok } from "node:assert/strict";
import type { TokenJson } from "../src/api/wire.ts";
import { StateStore } from "../src/store/state_store.ts";
import { generateToken, hashToken, issueToken } from "../src/store/tokens.ts";
import {
  type CliResult,
  Daemon,
  okService,
  runTen,
  settingsBlock,
  startDaemon,
  tempDir,
  tokenOf,
  waitFor,
} from "../testkit/mod.ts";

function succeeded(res: CliResult, what: string): CliResult {
  equal(res.code, 0, `${what} failed:\n${res.stdout}${res.stderr}`);
  return res;
}

/** `ten token-gen options…` in the daemon's dir; the token it printed. */
async function tokenGen(d: Daemon, options: readonly string[]): Promise<CliResult> {
  return await runTen(["token-gen", ...options, "--config", d.configPath], { cwd: d.dir });
}

/** `ten token list --json` with the daemon's admin token. */
async function listed(d: Daemon): Promise<TokenJson[]> {
  const res = await d.ten(["token", "list", "--json"], { TENEMENT_TOKEN: d.token });
  return JSON.parse(succeeded(res, "token list").stdout);
}

function modeOf(info: Deno.FileInfo): number {
  return (info.mode ?? 0) & 0o777;
}

Deno.test("ten token list shows ids, kinds, scopes, labels and times, never a secret or its hash", async () => {
  await using d = await startDaemon({ config: settingsBlock() + okService("notes") });
  const added = tokenOf(
    succeeded(await tokenGen(d, ["--add", "--description", "CI deploys"]), "--add").stdout,
  );
  const tenant = tokenOf(
    succeeded(
      await tokenGen(d, ["--tenant", "alice", "--services", "notes", "--description", "alice"]),
      "--tenant --services",
    ).stdout,
  );
  const metricsRes = succeeded(await tokenGen(d, ["--metrics", "--expires", "30d"]), "--metrics");
  const metrics = tokenOf(metricsRes.stdout);
  match(metricsRes.stdout, /^Generated metrics token:\n\n {2}\S+\n\n/);
  match(metricsRes.stdout, /It expires at \d{4}-\d\d-\d\dT/);
  // Use the tenant token once, so its last use is recorded.
  equal((await d.apiAs(tenant, "GET", "/api/instances")).status, 200);

  const rows = await listed(d);
  const secrets = [d.token, added, tenant, metrics];
  deepEqual(
    rows.map((r) => [r.id, r.kind, r.scope, r.label, r.file_token]),
    [
      [d.token.slice(0, 8), "admin", "all", null, true],
      [added.slice(0, 8), "admin", "all", "CI deploys", false],
      [tenant.slice(0, 8), "tenant", "alice in notes", "alice", false],
      [metrics.slice(0, 8), "metrics", "/metrics", null, false],
    ],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  notEqual(byId.get(tenant.slice(0, 8))?.last_used_at, null);
  equal(byId.get(added.slice(0, 8))?.last_used_at, null);
  ok(byId.get(metrics.slice(0, 8))?.expires_at !== null);
  equal(byId.get(metrics.slice(0, 8))?.expired, false);

  const text = succeeded(await d.ten(["token", "list"]), "token list").stdout;
  match(text, /^ID\s+KIND\s+SCOPE\s+LABEL\s+CREATED\s+LAST USED\s+EXPIRES\n/);
  match(text, /CI deploys/);
  const json = JSON.stringify(rows);
  for (const secret of secrets) {
    ok(!json.includes(secret) && !text.includes(secret), "a token is listed");
    const hash = await hashToken(secret);
    ok(!json.includes(hash) && !text.includes(hash), "a token hash is listed");
  }
  // Listing is for admins.
  equal((await d.apiAs(tenant, "GET", "/api/tokens")).status, 403);
});

Deno.test("two admin tokens both work; a revoked token is refused on the next request", async (t) => {
  await using d = await startDaemon({ config: settingsBlock() + okService("notes") });
  const file = d.token;
  const second = tokenOf(succeeded(await tokenGen(d, ["--add"]), "--add").stdout);
  const tenant = await d.tenantToken("alice");

  await t.step("both admin tokens work, and --add left the token file alone", async () => {
    equal((await d.apiAs(file, "GET", "/api/instances")).status, 200);
    equal((await d.apiAs(second, "GET", "/api/instances")).status, 200);
    equal((await Deno.readTextFile(`${d.dataDir}/.tenement/api_token`)).trim(), file);
  });

  await t.step("revoking a tenant token: its next request is 401", async () => {
    equal((await d.apiAs(tenant, "GET", "/api/instances")).status, 200);
    const res = succeeded(await d.ten(["token", "revoke", tenant.slice(0, 8)]), "revoke");
    equal(res.stdout.trim(), `Revoked token ${tenant.slice(0, 8)} (tenant: alice)`);
    equal((await d.apiAs(tenant, "GET", "/api/instances")).status, 401);
    const again = await d.ten(["token", "revoke", tenant.slice(0, 8)]);
    equal(again.code, 1);
    match(again.stderr, /Token not found/);
  });

  await t.step("revoking one admin token leaves the other working", async () => {
    succeeded(
      await d.ten(["token", "revoke", second.slice(0, 8)], { TENEMENT_TOKEN: file }),
      "revoke second admin",
    );
    equal((await d.apiAs(second, "GET", "/api/instances")).status, 401);
    equal((await d.apiAs(file, "GET", "/api/instances")).status, 200);
  });

  await t.step("the last admin token is kept unless --force", async () => {
    const res = await d.ten(["token", "revoke", file.slice(0, 8)]);
    equal(res.code, 1, `${file.slice(0, 8)}: ${res.stdout}${res.stderr}`);
    match(res.stderr, /last admin token/);
    match(res.stderr, /--force/);
    equal((await d.apiAs(file, "GET", "/api/instances")).status, 200);
    succeeded(await d.ten(["token", "revoke", "--force", file.slice(0, 8)]), "revoke --force");
    equal((await d.apiAs(file, "GET", "/api/instances")).status, 401);
    // token-gen works without the daemon's API, so the admin is never locked out for good.
    await d.makeToken();
    equal((await d.api("GET", "/api/instances")).status, 200);
  });
});

Deno.test("an expired token gets 401 from the next request on", async () => {
  await using d = await startDaemon({ config: settingsBlock() + okService("notes") });
  let token: string;
  {
    // The daemon holds the same KV file open: Deno KV takes several processes on one file.
    using store = await StateStore.open(`${d.dataDir}/.tenement/tenement.kv`);
    token = (await issueToken(store, { kind: "tenant", tenant: "alice", services: undefined }, {
      description: "short-lived",
      nowMs: Date.now(),
      expiresAtMs: Date.now() + 1_500,
    })).token;
  }
  equal((await d.apiAs(token, "GET", "/api/instances")).status, 200);
  const expired = await waitFor(async () => {
    const res = await d.apiAs(token, "GET", "/api/instances");
    return res.status === 401 ? res : undefined;
  }, { timeoutMs: 10_000 });
  match(expired.body, /expired/);
  const row = (await listed(d)).find((r) => r.id === token.slice(0, 8));
  equal(row?.expired, true);
  equal((await d.api("GET", "/api/instances")).status, 200);
});

Deno.test("--services narrows a bare-id tenant token; a metrics token gets 403 on /api", async (t) => {
  await using d = await startDaemon({
    config: settingsBlock() + okService("notes") + okService("api"),
  });
  await d.spawn("notes", "alice");
  await d.spawn("api", "alice");
  const narrowed = tokenOf(
    succeeded(await tokenGen(d, ["--tenant", "alice", "--services", "notes"]), "--services")
      .stdout,
  );
  const wide = await d.tenantToken("alice");
  const metrics = tokenOf(succeeded(await tokenGen(d, ["--metrics"]), "--metrics").stdout);

  await t.step("--services notes: notes:alice is allowed, api:alice is 403", async () => {
    equal((await d.apiAs(narrowed, "GET", "/api/instances/notes:alice/health")).status, 200);
    const other = await d.apiAs(narrowed, "GET", "/api/instances/api:alice/health");
    equal(other.status, 403, other.body);
    const rows = JSON.parse((await d.apiAs(narrowed, "GET", "/api/instances")).body) as {
      id: string;
    }[];
    deepEqual(rows.map((r) => r.id), ["notes:alice"]);
    // A bare id without --services still covers alice in every service.
    equal((await d.apiAs(wide, "GET", "/api/instances/api:alice/health")).status, 200);
  });

  await t.step("--services is refused with a service:id tenant or an unknown service", async () => {
    const pinned = await tokenGen(d, ["--tenant", "notes:alice", "--services", "notes"]);
    equal(pinned.code, 1);
    match(pinned.stderr, /already names one instance/);
    const unknown = await tokenGen(d, ["--tenant", "alice", "--services", "nope"]);
    equal(unknown.code, 1);
    match(unknown.stderr, /"nope" is not defined/);
  });

  await t.step("a metrics token passes authentication but no /api route", async () => {
    for (
      const [method, path] of [
        ["GET", "/api/instances"],
        ["GET", "/api/instances/notes:alice/health"],
        ["GET", "/api/logs"],
        ["GET", "/api/tokens"],
        ["GET", "/api/history"],
        ["DELETE", "/api/instances/notes:alice"],
        ["GET", "/api/no-such-route"],
      ] as const
    ) {
      const res = await d.apiAs(metrics, method, path);
      equal(res.status, 403, `${method} ${path}: ${res.body}`);
    }
    equal((await d.instance("notes:alice"))?.status, "running");
  });
});

Deno.test("the token file is 0600, replaced atomically, and never written through a symlink", async (t) => {
  await using d = await startDaemon({ config: settingsBlock() + okService("notes") });
  const file = `${d.dataDir}/.tenement/api_token`;

  await t.step(
    "token-gen replaces the file by a rename, 0600, with no temp file left",
    async () => {
      const before = await Deno.stat(file);
      equal(modeOf(before), 0o600);
      const reads: string[] = [];
      let isDone = false;
      const reader = (async () => {
        while (!isDone) {
          reads.push(await Deno.readTextFile(file));
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      })();
      const token = tokenOf(succeeded(await tokenGen(d, []), "token-gen").stdout);
      isDone = true;
      await reader;
      const after = await Deno.stat(file);
      equal(modeOf(after), 0o600);
      notEqual(after.ino, before.ino, "the file was rewritten in place, not renamed over");
      equal((await Deno.readTextFile(file)).trim(), token);
      // A reader saw the old token or the new one, whole, never a part.
      for (const text of reads) match(text, /^[A-Za-z0-9_-]{43}\n$/);
      const names = [];
      for await (const e of Deno.readDir(`${d.dataDir}/.tenement`)) names.push(e.name);
      deepEqual(names.filter((n) => n.includes("api_token")), ["api_token"]);
      d.token = token;
    },
  );

  await t.step("a symlink at the file's path is refused, and no token is made", async () => {
    const target = `${d.dir}/elsewhere`;
    await Deno.writeTextFile(target, "precious\n");
    await Deno.remove(file);
    await Deno.symlink(target, file);
    const countBefore = (await listed(d)).length;
    const res = await tokenGen(d, []);
    equal(res.code, 1, res.stdout);
    match(res.stderr, /symbolic link/);
    equal(await Deno.readTextFile(target), "precious\n");
    ok((await Deno.lstat(file)).isSymlink);
    equal((await listed(d)).length, countBefore);
    // The admin token made before still works.
    equal((await d.api("GET", "/api/instances")).status, 200);
  });
});

Deno.test("the data dir is 0700 and the KV file 0600 (with its -wal and -shm)", async () => {
  // The daemon creates the data dir here (no token-gen first).
  await using d = await startDaemon({
    config: settingsBlock() + okService("notes"),
    withToken: false,
  });
  equal(modeOf(await Deno.stat(d.dataDir)), 0o700);
  for await (const e of Deno.readDir(`${d.dataDir}/.tenement`)) {
    if (!e.name.startsWith("tenement.kv")) continue;
    equal(modeOf(await Deno.stat(`${d.dataDir}/.tenement/${e.name}`)), 0o600, e.name);
  }
  // A new token from the CLI with the daemon running leaves the modes as they are.
  await d.makeToken();
  equal(modeOf(await Deno.stat(`${d.dataDir}/.tenement/tenement.kv`)), 0o600);
  equal(modeOf(await Deno.stat(`${d.dataDir}/.tenement/api_token`)), 0o600);
});

Deno.test("a data dir from before token ids: the old admin and tenant tokens still authenticate", async () => {
  await using tmp = await tempDir();
  // Started below, once the old state file is in place.
  await using d = new Daemon({ dir: tmp.path, domain: "localhost", env: { NO_COLOR: "1" } });
  await d.writeConfig(settingsBlock() + okService("notes"));
  // Made by the earlier tenement, with the default mode.
  await Deno.mkdir(d.dataDir);
  await Deno.chmod(d.dataDir, 0o755);
  const admin = generateToken();
  const tenant = generateToken();
  {
    // The layout the earlier tenement wrote: schema 1, one admin record, v1 tenant records.
    using kv = await Deno.openKv(`${d.dataDir}/tenement.kv`);
    await kv.set(["meta", "schema_version"], 1);
    await kv.set(["tokens", "admin"], {
      v: 1,
      tokenId: "admin",
      sha256: await hashToken(admin),
      tenant: undefined,
      description: undefined,
      createdAtMs: 1_700_000_000_000,
    });
    await kv.set(["tokens", tenant.slice(0, 8)], {
      v: 1,
      tokenId: tenant.slice(0, 8),
      sha256: await hashToken(tenant),
      tenant: "alice",
      description: "old tenant",
      createdAtMs: 1_700_000_001_000,
    });
    await kv.set(["tokens_by_tenant", "alice", tenant.slice(0, 8)], true);
  }
  await Deno.writeTextFile(`${d.dataDir}/api_token`, `${admin}\n`);
  await d.start();
  // A data dir that exists keeps its mode, with a warning.
  equal(modeOf(await Deno.stat(d.dataDir)), 0o755);
  match(d.stderr, /data dir .* is open to other users \(mode 0755\).*chmod 700/);
  d.token = admin;
  equal((await d.api("GET", "/api/instances")).status, 200);
  equal((await d.apiAs(tenant, "GET", "/api/instances")).status, 200);
  const rows = await listed(d);
  deepEqual(rows.map((r) => [r.id, r.kind, r.scope, r.file_token]), [
    ["admin", "admin", "all", true],
    [tenant.slice(0, 8), "tenant", "alice", false],
  ]);
  // As before, the next token-gen replaces the admin token of the file.
  const fresh = await d.makeToken();
  equal((await d.apiAs(admin, "GET", "/api/instances")).status, 401);
  equal((await d.apiAs(fresh, "GET", "/api/instances")).status, 200);
  equal((await d.apiAs(tenant, "GET", "/api/instances")).status, 200);
});
