/**
 * The management plane's authorization matrix: every route of the API (and the public `/health`,
 * `/metrics` and dashboard page) × every kind of caller, against one real `ten serve`, with the
 * expected status of each cell in one table. Tokens are made the way an operator makes them
 * (`ten token-gen`, `ten token revoke`, `--expires`). Rows run in table order; the rows that
 * change state (disable, restart, stop, forget, deploy, route, rollback, reload, revoke) come last and aim
 * at instances no earlier row needs. Every mismatch is listed, not just the first.
 * @module
 */
import { equal, fail } from "node:assert/strict";
import {
  closeQuietly,
  type Daemon,
  okService,
  runTen,
  settingsBlock,
  sleep,
  startDaemon,
  tokenOf,
  writeAll,
} from "../testkit/mod.ts";

/** Who calls: how the Authorization header is made, and the instance it aims at. */
interface Caller {
  readonly name: string;
  /** The Authorization header, or undefined for none. */
  readonly authorization: string | undefined;
  /** The `service:id` its instance rows name. */
  readonly target: string;
  /**
   * Each request from this caller comes through the trusted proxy (127.0.0.1) for its own client
   * address (`X-Forwarded-For`), so the failed-login limit (10 bad tokens a minute per client)
   * never turns this caller's 401s into 429s. It is not weakened: every bad-token row is a
   * separate client, as a real attacker would have to be to try this many.
   */
  readonly isOwnClient?: boolean;
}

/** A request of the table; `{I}` in the path or body is the caller's target. */
interface Route {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
}

/** Expected statuses by caller name; `"*"` is the status of every caller not named. */
type Expected = Readonly<Record<string, number>>;

/** Statuses of the callers that do not get past authentication on a protected route. */
const UNAUTHENTICATED = { none: 401, malformed: 401, wrong: 401, revoked: 401, expired: 401 };
/** An admin-only route. */
const ADMIN_ONLY: Expected = { ...UNAUTHENTICATED, admin: 200, "*": 403 };
/** A route any tenant may call (it sees its own instances), not a metrics token. */
const ANY_TENANT: Expected = { ...UNAUTHENTICATED, metrics: 403, "*": 200 };
/** A route on one instance: its admin and its own tenant only. */
const OWN_INSTANCE: Expected = { ...UNAUTHENTICATED, admin: 200, tenantOwn: 200, "*": 403 };
/** A public route. */
const PUBLIC: Expected = { "*": 200 };

const ROWS: readonly (readonly [Route, Expected])[] = [
  [{ method: "GET", path: "/health" }, PUBLIC],
  [{ method: "GET", path: "/" }, PUBLIC],
  [{ method: "GET", path: "/metrics" }, {
    ...UNAUTHENTICATED,
    admin: 200,
    metrics: 200,
    "*": 403,
  }],
  // No token needed; loopback clients only. The bad-token callers come through the proxy for a
  // remote client, which the gate refuses.
  [{ method: "GET", path: "/api/tls/ask?domain=alice.notes.localhost" }, {
    wrong: 403,
    revoked: 403,
    expired: 403,
    "*": 200,
  }],
  [{ method: "GET", path: "/api/instances" }, ANY_TENANT],
  [{ method: "GET", path: "/api/instances?all=true" }, ANY_TENANT],
  [{ method: "GET", path: "/api/instances/{I}" }, OWN_INSTANCE],
  [{ method: "GET", path: "/api/instances/{I}/health" }, OWN_INSTANCE],
  // Already running: the allowed callers get it back, nothing new starts.
  [{ method: "POST", path: "/api/instances/spawn", body: { process: "{S}", id: "{ID}" } }, {
    ...OWN_INSTANCE,
  }],
  [{ method: "GET", path: "/api/logs?process={S}&id={ID}" }, OWN_INSTANCE],
  [{ method: "GET", path: "/api/logs" }, ANY_TENANT],
  [{ method: "GET", path: "/api/logs/stream?process={S}&id={ID}" }, OWN_INSTANCE],
  [{ method: "GET", path: "/api/telemetry" }, ANY_TENANT],
  [{ method: "GET", path: "/api/history" }, ADMIN_ONLY],
  [{ method: "GET", path: "/api/tokens" }, ADMIN_ONLY],
  [{ method: "GET", path: "/api/tls/certs" }, ADMIN_ONLY],
  [{ method: "POST", path: "/api/deploy/plan", body: { process: "api", version: "v2" } }, {
    ...ADMIN_ONLY,
  }],
  [{ method: "GET", path: "/api/nope" }, { ...UNAUTHENTICATED, metrics: 403, "*": 404 }],
  [{ method: "GET", path: "/nope" }, { ...UNAUTHENTICATED, "*": 404 }],
  // Admin-only changes: the admin's target is notes:bob, which no tenant row touches.
  [{ method: "PUT", path: "/api/instances/{I}/weight", body: { weight: 100 } }, ADMIN_ONLY],
  // The admin disables notes:bob and enables it again before the restart row needs it.
  [{ method: "POST", path: "/api/instances/{I}/disable" }, ADMIN_ONLY],
  [{ method: "POST", path: "/api/instances/{I}/enable" }, ADMIN_ONLY],
  [{ method: "POST", path: "/api/reload" }, ADMIN_ONLY],
  [{ method: "POST", path: "/api/deploy", body: { process: "api", version: "v2" } }, ADMIN_ONLY],
  [{ method: "POST", path: "/api/route", body: { process: "api", from: "v2", to: "alice" } }, {
    ...ADMIN_ONLY,
  }],
  [{ method: "POST", path: "/api/rollback", body: { process: "api" } }, ADMIN_ONLY],
  [{ method: "DELETE", path: "/api/tokens/{THROWAWAY}" }, ADMIN_ONLY],
  // Last: restart, stop, forget (the admin forgets notes:bob after stopping it).
  [{ method: "POST", path: "/api/instances/{I}/restart" }, OWN_INSTANCE],
  [{ method: "DELETE", path: "/api/instances/{I}" }, {
    ...OWN_INSTANCE,
    admin: 204,
    tenantOwn: 204,
  }],
  [{ method: "POST", path: "/api/instances/{I}/forget" }, ADMIN_ONLY],
];

/** `ten token-gen options…` in the daemon's dir; the token it printed. */
async function tokenGen(d: Daemon, options: readonly string[]): Promise<string> {
  const res = await runTen(["token-gen", ...options, "--config", d.configPath], { cwd: d.dir });
  equal(res.code, 0, `ten token-gen ${options.join(" ")}: ${res.stderr}`);
  return tokenOf(res.stdout);
}

/** The status of one request, sent once (never retried); the connection is closed after its head. */
async function statusOf(
  port: number,
  route: Route,
  headers: readonly [string, string][],
): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => closeQuietly(conn), 30_000);
  try {
    const body = route.body === undefined ? undefined : JSON.stringify(route.body);
    const fields: [string, string][] = [["Host", "localhost"], ...headers];
    if (body !== undefined) {
      fields.push(["Content-Type", "application/json"]);
      fields.push(["Content-Length", String(new TextEncoder().encode(body).length)]);
    }
    fields.push(["Connection", "close"]);
    const head = `${route.method} ${route.path} HTTP/1.1\r\n` +
      fields.map(([k, v]) => `${k}: ${v}\r\n`).join("") + "\r\n";
    await writeAll(conn, new TextEncoder().encode(head + (body ?? "")));
    let text = "";
    const buf = new Uint8Array(4096);
    while (!text.includes("\r\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    const status = /^HTTP\/1\.1 (\d{3})/.exec(text);
    return status ? Number(status[1]) : 0;
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}

/** `route` with the caller's target and the throwaway token's id filled in. */
function routeFor(route: Route, target: string, throwawayId: string): Route {
  const [service, id] = target.split(":") as [string, string];
  const fill = (text: string): string =>
    text.replaceAll("{I}", target).replaceAll("{S}", service).replaceAll("{ID}", id)
      .replaceAll("{THROWAWAY}", throwawayId);
  const body = route.body === undefined
    ? undefined
    : JSON.parse(fill(JSON.stringify(route.body))) as unknown;
  return { method: route.method, path: fill(route.path), ...(body === undefined ? {} : { body }) };
}

Deno.test("every API route answers every kind of caller with the status of the table", async () => {
  await using d = await startDaemon({
    config: settingsBlock({ trusted_proxies: ["127.0.0.1"] }) + okService("notes") +
      okService("api") + '\n[instances]\nnotes = ["alice", "bob"]\napi = ["alice"]\n',
  });
  // An ISO time a few seconds ahead: the shortest expiry `--expires` takes, then waited out.
  const expiresAt = new Date(Date.now() + 3_000).toISOString();
  const expired = await tokenGen(d, ["--tenant", "alice", "--expires", expiresAt]);
  const revoked = await tokenGen(d, ["--tenant", "alice"]);
  // It worked until revoked, so its row shows revocation, not a bad token.
  equal(
    await statusOf(d.port, { method: "GET", path: "/api/instances" }, [
      ["Authorization", `Bearer ${revoked}`],
    ]),
    200,
  );
  const revoke = await d.ten(["token", "revoke", revoked.slice(0, 8)]);
  equal(revoke.code, 0, `ten token revoke: ${revoke.stderr}`);
  const throwaway = await tokenGen(d, ["--tenant", "carol"]);
  const tenantOwn = await tokenGen(d, ["--tenant", "alice"]);
  const narrowed = await tokenGen(d, ["--tenant", "alice", "--services", "notes"]);
  const bob = await tokenGen(d, ["--tenant", "notes:bob"]);
  const metrics = await tokenGen(d, ["--metrics"]);
  await sleep(Math.max(0, Date.parse(expiresAt) - Date.now() + 200));
  const listed = await d.ten(["token", "list", "--json"]);
  const rows = JSON.parse(listed.stdout) as { id: string; expired: boolean }[];
  equal(rows.find((r) => r.id === expired.slice(0, 8))?.expired, true, listed.stdout);
  equal(rows.some((r) => r.id === revoked.slice(0, 8)), false, "the revoked token is listed");

  const bearer = (token: string): string => `Bearer ${token}`;
  const callers: readonly Caller[] = [
    { name: "none", authorization: undefined, target: "notes:alice" },
    { name: "malformed", authorization: `Basic ${btoa("admin:admin")}`, target: "notes:alice" },
    {
      name: "wrong",
      authorization: bearer("0".repeat(43)),
      target: "notes:alice",
      isOwnClient: true,
    },
    { name: "revoked", authorization: bearer(revoked), target: "notes:alice", isOwnClient: true },
    { name: "expired", authorization: bearer(expired), target: "notes:alice", isOwnClient: true },
    { name: "tenantOwn", authorization: bearer(tenantOwn), target: "notes:alice" },
    // A `notes:bob` token at alice's instance of the same service.
    { name: "tenantOtherId", authorization: bearer(bob), target: "notes:alice" },
    // alice's token narrowed to notes, at alice's instance of another service.
    { name: "tenantOtherService", authorization: bearer(narrowed), target: "api:alice" },
    { name: "metrics", authorization: bearer(metrics), target: "notes:alice" },
    // Last in each row, so its stop and forget of notes:bob follow every tenant's try.
    { name: "admin", authorization: bearer(d.token), target: "notes:bob" },
  ];

  const mismatches: string[] = [];
  let row = 0;
  for (const [route, expected] of ROWS) {
    row++;
    for (const [index, caller] of callers.entries()) {
      const want = expected[caller.name] ?? expected["*"]!;
      const headers: [string, string][] = [];
      if (caller.authorization !== undefined) headers.push(["Authorization", caller.authorization]);
      if (caller.isOwnClient) headers.push(["X-Forwarded-For", `198.18.${index}.${row}`]);
      const request = routeFor(route, caller.target, throwaway.slice(0, 8));
      const got = await statusOf(d.port, request, headers);
      if (got !== want) {
        mismatches.push(
          `${request.method} ${request.path} as ${caller.name}: expected ${want}, got ${got}`,
        );
      }
    }
  }
  if (mismatches.length > 0) fail(`${mismatches.length} mismatches:\n${mismatches.join("\n")}`);
});
