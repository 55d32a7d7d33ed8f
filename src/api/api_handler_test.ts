/**
 * The management API called the way `Deno.serve` calls it, with a `Request` and small fakes for
 * the instances, tokens, audit trail, logs and storage: no socket, no process, no store.
 */
import { deepEqual, equal, match, ok } from "node:assert/strict";
import { formatInstanceKey, type InstanceRef } from "../core/instance_key.ts";
import { ConflictError, NotFoundError } from "../core/errors.ts";
import type { ReloadOutcome } from "../config/reload_report.ts";
import { MetricsRegistry } from "../metrics/registry.ts";
import { parseConfig } from "../config/parse_config.ts";
import { StorageMeter } from "../runtime/storage_meter.ts";
import { LogStore } from "../logs/log_store.ts";
import { hashToken, tokenIdOf } from "../store/tokens.ts";
import type {
  AuditRecord,
  CertificateSource,
  DisabledView,
  ForgotView,
  InstanceControl,
  InstanceFilter,
  InstanceView,
  LogFilter,
  LogSource,
  NameGate,
  SpawnOrigin,
  TokenRecord,
} from "./api_ports.ts";
import {
  type ApiDeps,
  type ApiHandler,
  createApiHandler,
  createMetricsHandler,
  TELEMETRY_STORAGE_MAX_AGE_MS,
} from "./api_handler.ts";
import { MAX_JSON_BYTES } from "./read_json.ts";
import { MAX_STREAMS_PER_TOKEN, STREAM_QUEUE_LINES } from "./routes/logs.ts";
import type {
  CertsResponse,
  ErrorBody,
  InstanceJson,
  LogEntryJson,
  SpawnResponse,
} from "./wire.ts";

const ADMIN_TOKEN = "admin-token-0123456789";
const ALICE_TOKEN = "alice-tk-0123456789";
const NOW_MS = 1_700_000_000_000;

/** Instances kept in a map; spawn marks one running on a made-up port. */
class FakeInstances implements InstanceControl, NameGate {
  readonly views = new Map<string, InstanceView>();
  readonly config = { services: new Map<string, unknown>([["notes", {}]]) };

  /** Serves service "notes"; an id only when an instance exists or is on the allow list. */
  mayObtainCertificate(service: string, id: string | undefined): boolean {
    if (service !== "notes") return false;
    return id === undefined || this.views.has(`notes:${id}`) || id === "newcomer";
  }

  list(filter: InstanceFilter): InstanceView[] {
    return [...this.views.values()]
      .filter((view) => filter.service === undefined || view.service === filter.service)
      .filter((view) => filter.all || view.status === "running")
      .sort((a, b) => a.key.localeCompare(b.key));
  }
  get(ref: InstanceRef): InstanceView | undefined {
    return this.views.get(formatInstanceKey(ref));
  }
  /** How each instance was last started (spawn or restart). */
  readonly origins = new Map<string, SpawnOrigin>();
  spawn(ref: InstanceRef, origin: SpawnOrigin = "api"): Promise<InstanceView> {
    this.origins.set(formatInstanceKey(ref), origin);
    const view: InstanceView = {
      key: formatInstanceKey(ref),
      service: ref.service,
      id: ref.id,
      status: "running",
      health: "healthy",
      pid: 4242,
      port: 30001,
      weight: origin === "request" ? 0 : 100,
      startedAtMs: NOW_MS - 5_000,
      lastActivityMs: NOW_MS - 2_000,
      restarts: 0,
      reason: undefined,
      retryAtMs: undefined,
    };
    this.views.set(view.key, view);
    return Promise.resolve(view);
  }
  stop(ref: InstanceRef): Promise<InstanceView> {
    const view = this.#known(ref);
    const stopped = { ...view, status: "stopped" as const, pid: undefined, port: undefined };
    this.views.set(view.key, stopped);
    return Promise.resolve(stopped);
  }
  restart(ref: InstanceRef, origin?: SpawnOrigin): Promise<InstanceView> {
    return this.spawn(ref, origin);
  }
  setWeight(ref: InstanceRef, weight: number): Promise<InstanceView> {
    const view = { ...this.#known(ref), weight };
    this.views.set(view.key, view);
    return Promise.resolve(view);
  }
  checkHealth(ref: InstanceRef): Promise<InstanceView> {
    return Promise.resolve(this.#known(ref));
  }
  deploy(ref: InstanceRef, options: { weight: number | undefined }): Promise<InstanceView> {
    return this.spawn(ref).then(() => this.setWeight(ref, options.weight ?? 100));
  }
  route(): Promise<{ from: InstanceView; to: InstanceView }> {
    return Promise.reject(new Error("not used"));
  }
  rollback(): Promise<InstanceView[]> {
    return Promise.reject(new Error("not used"));
  }
  forget(ref: InstanceRef, options: { purge: boolean; dryRun: boolean }): Promise<ForgotView> {
    const view = this.#known(ref);
    if (view.status === "running") {
      return Promise.reject(
        new ConflictError(`${view.key} is running: ten stop ${view.key} first`),
      );
    }
    if (!options.dryRun) this.views.delete(view.key);
    return Promise.resolve({
      key: view.key,
      dataDir: `/data/${ref.service}/${ref.id}`,
      isPurged: options.purge,
      hadDataDir: true,
    });
  }
  disable(ref: InstanceRef): Promise<DisabledView> {
    return Promise.resolve(this.#setDisabled(ref, true));
  }
  enable(ref: InstanceRef): Promise<DisabledView> {
    return Promise.resolve(this.#setDisabled(ref, false));
  }
  #setDisabled(ref: InstanceRef, isDisabled: boolean): DisabledView {
    const view = this.#known(ref);
    if ((view.isDisabled === true) === isDisabled) return { instance: view, isChanged: false };
    const next: InstanceView = isDisabled
      ? { ...view, isDisabled, status: "stopped", pid: undefined, port: undefined }
      : { ...view, isDisabled };
    this.views.set(view.key, next);
    return { instance: next, isChanged: true };
  }
  #known(ref: InstanceRef): InstanceView {
    const view = this.get(ref);
    if (view === undefined) {
      throw new NotFoundError(`Instance not found: ${formatInstanceKey(ref)}`);
    }
    return view;
  }
}

/** Log lines kept in an array. */
class FakeLogs implements LogSource {
  readonly entries: LogEntryJson[] = [];
  query(filter: LogFilter): LogEntryJson[] {
    return this.entries.filter((entry) =>
      (filter.scope === undefined || filter.scope(entry.process, entry.instance_id)) &&
      (filter.process === undefined || entry.process === filter.process) &&
      (filter.id === undefined || entry.instance_id === filter.id)
    );
  }
  /** Live subscribers: `emit` feeds them. */
  readonly subscribers = new Set<(entry: LogEntryJson) => void>();
  subscribe(filter: LogFilter, onEntry: (entry: LogEntryJson) => void): () => void {
    const subscriber = (entry: LogEntryJson): void => {
      if (filter.scope === undefined || filter.scope(entry.process, entry.instance_id)) {
        onEntry(entry);
      }
    };
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }
  emit(entry: LogEntryJson): void {
    for (const subscriber of this.subscribers) subscriber(entry);
  }
}

interface Api {
  readonly handle: ApiHandler;
  /** What the next reload answers. */
  nextReload: ReloadOutcome;
  readonly instances: FakeInstances;
  readonly logs: FakeLogs;
  readonly audit: AuditRecord[];
  readonly deps: ApiDeps;
}

async function makeApi(
  certificates?: CertificateSource,
  options: { metricsInstanceLabel?: boolean } = {},
): Promise<Api> {
  const admin: TokenRecord = {
    tokenId: "admin",
    sha256: await hashToken(ADMIN_TOKEN),
    tenant: undefined,
  };
  const alice: TokenRecord = {
    tokenId: tokenIdOf(ALICE_TOKEN),
    sha256: await hashToken(ALICE_TOKEN),
    tenant: "alice",
  };
  const instances = new FakeInstances();
  const logs = new FakeLogs();
  const audit: AuditRecord[] = [];
  const api: { nextReload: ReloadOutcome } = {
    nextReload: { isApplied: false, message: "/srv/tenement.toml:2:1: bad" },
  };
  const deps: ApiDeps = {
    reload: { reload: () => Promise.resolve(api.nextReload) },
    instances,
    tokens: {
      getAdminToken: () => Promise.resolve(admin),
      getToken: (tokenId) => Promise.resolve(tokenId === alice.tokenId ? alice : undefined),
      touchToken: () => Promise.resolve(),
      listTokens: () => Promise.resolve([]),
      revokeToken: (tokenId) => Promise.reject(new NotFoundError(`Token not found: "${tokenId}"`)),
    },
    audit: {
      appendAudit: (entry) => Promise.resolve(void audit.push(entry)),
      listAudit: (limit) => Promise.resolve(audit.slice(-limit)),
    },
    logs,
    storage: {
      usedBytes: (ref) => Promise.resolve(ref.id === "alice" ? 4096 : 0),
      quotaBytes: (service) => service === "notes" ? 10 * 1024 * 1024 : null,
    },
    metrics: new MetricsRegistry(),
    now: () => NOW_MS,
    domain: "example.com",
    certificates,
    metricsInstanceLabel: () => options.metricsInstanceLabel ?? true,
  };
  const handle = createApiHandler(deps);
  return Object.assign(api, { handle, deps, instances, logs, audit });
}

function call(
  api: Api,
  method: string,
  path: string,
  options: { token?: string; body?: string; clientIp?: string } = {},
): Promise<Response> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers["authorization"] = `Bearer ${options.token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const init: RequestInit = { method, headers };
  if (options.body !== undefined) init.body = options.body;
  return api.handle(
    new Request(`http://tenement.local${path}`, init),
    options.clientIp ?? "203.0.113.7",
  );
}

Deno.test("API: /health needs no token; the API answers 401 with a challenge without one", async () => {
  const api = await makeApi();
  const health = await call(api, "GET", "/health");
  equal(health.status, 200);
  deepEqual(await health.json(), { status: "ok" });

  const missing = await call(api, "GET", "/api/instances");
  equal(missing.status, 401);
  equal(missing.headers.get("www-authenticate"), 'Bearer realm="tenement"');
  equal((await missing.json() as ErrorBody).error, "Missing Authorization: Bearer <token> header");

  const wrong = await call(api, "GET", "/api/instances", { token: "not-the-token" });
  equal(wrong.status, 401);
  equal((await wrong.json() as ErrorBody).error, "Invalid token");
});

Deno.test("API: spawn then list returns the instance with its measured storage", async () => {
  const api = await makeApi();
  const spawned = await call(api, "POST", "/api/instances/spawn", {
    token: ADMIN_TOKEN,
    body: JSON.stringify({ process: "notes", id: "alice" }),
  });
  equal(spawned.status, 200);
  deepEqual(
    await spawned.json(),
    {
      instance: "notes:alice",
      socket: "127.0.0.1:30001",
      port: 30001,
      status: "running",
      pid: 4242,
      already_running: false,
    } satisfies SpawnResponse,
  );
  deepEqual(
    api.audit.map((entry) => [entry.actor, entry.action, entry.target, entry.outcome]),
    [["admin", "spawn", "notes:alice", "ok"]],
  );

  const listed = await call(api, "GET", "/api/instances", { token: ADMIN_TOKEN });
  equal(listed.status, 200);
  const rows = await listed.json() as InstanceJson[];
  equal(rows.length, 1);
  const row = rows[0]!;
  equal(row.id, "notes:alice");
  equal(row.uptime_secs, 5);
  equal(row.idle_secs, 2);
  equal(row.storage_used_bytes, 4096);
  equal(row.storage_quota_bytes, 10 * 1024 * 1024);

  const one = await call(api, "GET", "/api/instances/notes:alice", { token: ADMIN_TOKEN });
  equal((await one.json() as InstanceJson).storage_used_bytes, 4096);
});

Deno.test("API: a tenant token sees and acts on its own instance only", async () => {
  const api = await makeApi();
  await api.instances.spawn({ service: "notes", id: "alice" });
  await api.instances.spawn({ service: "notes", id: "bob" });
  api.logs.entries.push(
    { timestamp: 1, level: "stdout", process: "notes", instance_id: "alice", message: "a", id: 1 },
    { timestamp: 2, level: "stdout", process: "notes", instance_id: "bob", message: "b", id: 2 },
  );

  const listed = await call(api, "GET", "/api/instances", { token: ALICE_TOKEN });
  deepEqual((await listed.json() as InstanceJson[]).map((row) => row.id), ["notes:alice"]);

  const own = await call(api, "GET", "/api/instances/notes:alice", { token: ALICE_TOKEN });
  equal(own.status, 200);
  await own.body?.cancel();

  const other = await call(api, "DELETE", "/api/instances/notes:bob", { token: ALICE_TOKEN });
  equal(other.status, 403);
  equal((await other.json() as ErrorBody).error, "Tenant token can only access instance 'alice'");
  equal(api.instances.get({ service: "notes", id: "bob" })?.status, "running");

  const logs = await call(api, "GET", "/api/logs", { token: ALICE_TOKEN });
  deepEqual((await logs.json() as LogEntryJson[]).map((entry) => entry.message), ["a"]);

  const deploy = await call(api, "POST", "/api/deploy", {
    token: ALICE_TOKEN,
    body: JSON.stringify({ process: "notes", version: "alice" }),
  });
  equal(deploy.status, 403);
  equal((await deploy.json() as ErrorBody).error, "Deploy requires admin token");
});

Deno.test("API: a bad JSON body answers 400 and names the field", async () => {
  const api = await makeApi();
  const spawn = (body: string): Promise<Response> =>
    call(api, "POST", "/api/instances/spawn", { token: ADMIN_TOKEN, body });

  const wrongType = await spawn(JSON.stringify({ process: 5, id: "alice" }));
  equal(wrongType.status, 400);
  deepEqual(await wrongType.json(), {
    error: 'Field "process" must be a string',
    field: "process",
  });

  const missing = await spawn(JSON.stringify({ process: "notes" }));
  equal(missing.status, 400);
  deepEqual(await missing.json(), { error: 'Missing field "id"', field: "id" });

  const badName = await spawn(JSON.stringify({ process: "notes", id: "a.b" }));
  equal(badName.status, 400);
  equal((await badName.json() as ErrorBody).field, "id");

  const notJson = await spawn("{process:");
  equal(notJson.status, 400);
  ok((await notJson.json() as ErrorBody).error.startsWith("Invalid JSON body: "));

  await api.instances.spawn({ service: "notes", id: "alice" });
  const weight = await call(api, "PUT", "/api/instances/notes:alice/weight", {
    token: ADMIN_TOKEN,
    body: JSON.stringify({ weight: "heavy" }),
  });
  equal(weight.status, 400);
  equal((await weight.json() as ErrorBody).field, "weight");
  deepEqual(api.audit, []);
});

Deno.test("API: unknown paths answer 404, known paths with a wrong method 405", async () => {
  const api = await makeApi();
  const unknown = await call(api, "GET", "/api/nothing-here", { token: ADMIN_TOKEN });
  equal(unknown.status, 404);
  deepEqual(await unknown.json(), { error: "Not found" });

  const outside = await call(api, "GET", "/elsewhere", { token: ADMIN_TOKEN });
  equal(outside.status, 404);
  await outside.body?.cancel();

  const wrongMethod = await call(api, "POST", "/api/instances", { token: ADMIN_TOKEN });
  equal(wrongMethod.status, 405);
  equal(wrongMethod.headers.get("allow"), "GET");
  equal((await wrongMethod.json() as ErrorBody).error, "Method POST not allowed (allowed: GET)");

  const unknownInstance = await call(api, "GET", "/api/instances/notes:ghost", {
    token: ADMIN_TOKEN,
  });
  equal(unknownInstance.status, 404);
  equal((await unknownInstance.json() as ErrorBody).error, "Instance not found: notes:ghost");
});

Deno.test("API: /api/tls/ask allows names that route somewhere, for local clients only, without a token", async (t) => {
  const api = await makeApi();
  await call(api, "POST", "/api/instances/spawn", {
    token: ADMIN_TOKEN,
    body: JSON.stringify({ process: "notes", id: "alice" }),
  });
  const ask = (domain: string, clientIp = "127.0.0.1") =>
    call(api, "GET", `/api/tls/ask?domain=${encodeURIComponent(domain)}`, { clientIp });
  const cases: [string, string, number][] = [
    ["an existing instance", "alice.notes.example.com", 200],
    ["an instance a request could create", "newcomer.notes.example.com", 200],
    ["a service's weighted route", "notes.example.com", 200],
    ["the bare domain (the API)", "Example.COM.", 200],
    ["an id the service would not create", "mallory.notes.example.com", 404],
    ["an unknown service", "alice.nosuch.example.com", 404],
    ["a name outside the domain", "alice.notes.example.org", 404],
    ["too many labels", "a.b.notes.example.com", 404],
    ["not a valid label", "al_ice!.notes.example.com", 404],
  ];
  for (const [name, domain, status] of cases) {
    await t.step(`${name}: ${status}`, async () => {
      const res = await ask(domain);
      equal(res.status, status, await res.clone().text());
      if (status === 200) equal((await res.json() as { allowed: boolean }).allowed, true);
      else await res.body?.cancel();
    });
  }
  await t.step("a client that is not on this machine: 403, whatever the name", async () => {
    const res = await ask("alice.notes.example.com", "203.0.113.7");
    equal(res.status, 403);
    await res.body?.cancel();
  });
  await t.step("no domain, or an overlong one: 400 naming the field", async () => {
    const missing = await call(api, "GET", "/api/tls/ask", { clientIp: "::1" });
    equal(missing.status, 400);
    equal((await missing.json() as ErrorBody).field, "domain");
    const long = await ask(`${"a".repeat(250)}.notes.example.com`);
    equal(long.status, 400);
    await long.body?.cancel();
  });
});

Deno.test("API: logs of an unknown service or instance answer 404, another tenant's 403", async (t) => {
  const api = await makeApi();
  await api.instances.spawn({ service: "notes", id: "alice" });
  await api.instances.spawn({ service: "notes", id: "bob" });
  await api.instances.stop({ service: "notes", id: "bob" });
  api.logs.entries.push(
    { timestamp: 1, level: "stdout", process: "notes", instance_id: "alice", message: "a", id: 1 },
    { timestamp: 2, level: "stdout", process: "gone", instance_id: "old", message: "kept", id: 2 },
  );
  const logs = (query: string, token = ADMIN_TOKEN): Promise<Response> =>
    call(api, "GET", `/api/logs${query}`, { token });

  for (const path of ["/api/logs", "/api/logs/stream"]) {
    await t.step(`${path}: an unknown instance or service is 404 naming it`, async () => {
      const instance = await call(api, "GET", `${path}?process=notes&id=nosuch`, {
        token: ADMIN_TOKEN,
      });
      equal(instance.status, 404);
      equal((await instance.json() as ErrorBody).error, "Instance not found: notes:nosuch");
      const service = await call(api, "GET", `${path}?process=nosvc&id=x`, { token: ADMIN_TOKEN });
      equal(service.status, 404);
      equal(
        (await service.json() as ErrorBody).error,
        'Unknown service "nosvc": it is not defined in the config',
      );
    });
    await t.step(`${path}: another tenant's instance is 403`, async () => {
      for (const query of ["?process=notes&id=bob", "?id=bob", "?process=notes&id=nosuch"]) {
        const res = await call(api, "GET", `${path}${query}`, { token: ALICE_TOKEN });
        equal(res.status, 403, query);
        equal(
          (await res.json() as ErrorBody).error,
          "Tenant token can only access instance 'alice'",
        );
      }
    });
  }

  await t.step(
    "a stopped instance without lines, and lines that outlived their service, are 200",
    async () => {
      const stopped = await logs("?process=notes&id=bob");
      equal(stopped.status, 200);
      deepEqual(await stopped.json(), []);
      const gone = await logs("?process=gone&id=old");
      equal(gone.status, 200);
      deepEqual((await gone.json() as LogEntryJson[]).map((entry) => entry.message), ["kept"]);
      const own = await logs("?process=notes&id=alice", ALICE_TOKEN);
      deepEqual((await own.json() as LogEntryJson[]).map((entry) => entry.message), ["a"]);
    },
  );
});

Deno.test("API: /api/tls/certs lists certificates for the admin only; /metrics shows their expiry", async (t) => {
  await t.step("plain HTTP: enabled false, no expiry series", async () => {
    const api = await makeApi();
    const res = await call(api, "GET", "/api/tls/certs", { token: ADMIN_TOKEN });
    equal(res.status, 200);
    deepEqual(await res.json(), {
      enabled: false,
      domain: null,
      directory: null,
      certificates: [],
    });
    const metrics = await (await call(api, "GET", "/metrics", { token: ADMIN_TOKEN })).text();
    ok(!metrics.includes("tenement_tls_certificate_expiry"), metrics);
  });
  const source: CertificateSource = {
    domain: "example.com",
    directoryUrl: "https://ca.example.net/dir",
    status: () => [
      {
        names: ["*.notes.example.com", "notes.example.com"],
        challenge: "dns-01",
        issuer: "Pebble Intermediate CA",
        notBefore: "2026-11-01T00:00:00.000Z",
        notAfter: "2027-01-30T00:00:00.000Z",
        nextAttempt: "2026-12-31T00:00:00.000Z",
        lastError: undefined,
        lastErrorAt: undefined,
      },
      {
        names: ["example.com"],
        challenge: "dns-01",
        issuer: undefined,
        notBefore: undefined,
        notAfter: undefined,
        nextAttempt: "2026-11-29T01:00:00.000Z",
        lastError: "hook /etc/tenement/dns-hook exited with 1",
        lastErrorAt: "2026-11-29T00:00:00.000Z",
      },
    ],
  };
  const api = await makeApi(source);
  await t.step("the admin gets every certificate, with the last error", async () => {
    const res = await call(api, "GET", "/api/tls/certs", { token: ADMIN_TOKEN });
    equal(res.status, 200);
    const body = await res.json() as CertsResponse;
    equal(body.enabled, true);
    equal(body.directory, "https://ca.example.net/dir");
    deepEqual(body.certificates.map((cert) => [cert.names[0], cert.not_after, cert.last_error]), [
      ["*.notes.example.com", "2027-01-30T00:00:00.000Z", null],
      ["example.com", null, "hook /etc/tenement/dns-hook exited with 1"],
    ]);
  });
  await t.step("a tenant token gets 403", async () => {
    const res = await call(api, "GET", "/api/tls/certs", { token: ALICE_TOKEN });
    equal(res.status, 403);
    await res.body?.cancel();
  });
  await t.step("/metrics has the expiry of each issued certificate", async () => {
    const metrics = await (await call(api, "GET", "/metrics", { token: ADMIN_TOKEN })).text();
    const lines = metrics.split("\n").filter((line) =>
      line.startsWith("tenement_tls_certificate_expiry_timestamp_seconds{")
    );
    deepEqual(lines, [
      `tenement_tls_certificate_expiry_timestamp_seconds{name="*.notes.example.com"} ${
        Date.parse("2027-01-30T00:00:00.000Z") / 1000
      }`,
    ]);
  });
});

Deno.test("API: reload answers the report, 422 with the problems of a bad file, 403 for tenants", async () => {
  const api = await makeApi();
  const bad = await call(api, "POST", "/api/reload", { token: ADMIN_TOKEN });
  equal(bad.status, 422);
  deepEqual(await bad.json(), {
    error: "/srv/tenement.toml:2:1: bad",
    details: ["nothing was changed: the daemon keeps running the previous config"],
  });
  api.nextReload = {
    isApplied: true,
    report: {
      path: "/srv/tenement.toml",
      added: ["blog"],
      changed: [{ service: "notes", keys: ["command"] }],
      removed: [],
      settings: [],
      needsRestart: ["settings.data_dir"],
      isInstancesChanged: false,
      outdated: [{ instance: "notes:alice", isServiceRemoved: false }],
      warnings: [],
    },
  };
  const good = await call(api, "POST", "/api/reload", { token: ADMIN_TOKEN });
  equal(good.status, 200);
  deepEqual(await good.json(), {
    config: "/srv/tenement.toml",
    added: ["blog"],
    changed: [{ service: "notes", keys: ["command"] }],
    removed: [],
    settings: [],
    needs_restart: ["settings.data_dir"],
    instances_changed: false,
    outdated: [{ instance: "notes:alice", service_removed: false }],
    warnings: [],
  });
  deepEqual(api.audit.map((a) => [a.action, a.outcome]), [["reload", "error"], ["reload", "ok"]]);
  const tenant = await call(api, "POST", "/api/reload", { token: ALICE_TOKEN });
  equal(tenant.status, 403);
  equal((await tenant.json() as ErrorBody).error, "Reload requires admin token");
});

Deno.test("API: forget is admin-only, 409 while running, 404 when unknown", async () => {
  const api = await makeApi();
  await api.instances.spawn({ service: "notes", id: "alice" });
  const forget = (key: string, token = ADMIN_TOKEN, query = "") =>
    call(api, "POST", `/api/instances/${key}/forget${query}`, { token });
  const tenant = await forget("notes:alice", ALICE_TOKEN);
  equal(tenant.status, 403);
  equal((await tenant.json() as ErrorBody).error, "Removing an instance requires admin token");
  const running = await forget("notes:alice");
  equal(running.status, 409);
  equal(
    (await running.json() as ErrorBody).error,
    "notes:alice is running: ten stop notes:alice first",
  );
  await api.instances.stop({ service: "notes", id: "alice" });
  const dry = await forget("notes:alice", ADMIN_TOKEN, "?purge=1&dry_run=1");
  deepEqual(await dry.json(), {
    instance: "notes:alice",
    data_dir: "/data/notes/alice",
    purged: true,
    had_data_dir: true,
    dry_run: true,
  });
  ok(api.instances.views.has("notes:alice"));
  equal((await forget("notes:alice", ADMIN_TOKEN, "?purge=1")).status, 200);
  equal(api.instances.views.has("notes:alice"), false);
  deepEqual(api.audit.at(-1)?.action, "rm");
  equal((await forget("notes:alice")).status, 404);
});

Deno.test("API: weights are admin-only; what a tenant starts is created as by a request", async (t) => {
  const api = await makeApi();
  await api.instances.spawn({ service: "notes", id: "alice" });

  await t.step("a tenant token cannot set the weight of its own instance (403)", async () => {
    const res = await call(api, "PUT", "/api/instances/notes:alice/weight", {
      token: ALICE_TOKEN,
      body: JSON.stringify({ weight: 100 }),
    });
    equal(res.status, 403);
    equal((await res.json() as ErrorBody).error, "Changing a weight requires admin token");
    deepEqual(api.audit, []);
  });

  await t.step("the weight route refuses a tenant before reading the body", async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(1024));
      },
    });
    const res = await api.handle(
      new Request("http://tenement.local/api/instances/notes:alice/weight", {
        method: "PUT",
        headers: { authorization: `Bearer ${ALICE_TOKEN}`, "content-type": "application/json" },
        body,
      }),
      "203.0.113.7",
    );
    equal(res.status, 403);
    await res.body?.cancel();
    ok(pulled <= 1, `read ${pulled} chunks of the body`);
  });

  await t.step("the admin token still sets weights", async () => {
    const res = await call(api, "PUT", "/api/instances/notes:alice/weight", {
      token: ADMIN_TOKEN,
      body: JSON.stringify({ weight: 30 }),
    });
    equal(res.status, 200);
    deepEqual(await res.json(), { instance: "notes:alice", weight: 30 });
  });

  await t.step("spawn and restart by a tenant use origin request, by the admin api", async () => {
    const own = await call(api, "POST", "/api/instances/spawn", {
      token: ALICE_TOKEN,
      body: JSON.stringify({ process: "billing", id: "alice" }),
    });
    equal(own.status, 200);
    await own.body?.cancel();
    equal(api.instances.origins.get("billing:alice"), "request");
    equal(api.instances.get({ service: "billing", id: "alice" })?.weight, 0);
    const restarted = await call(api, "POST", "/api/instances/notes:alice/restart", {
      token: ALICE_TOKEN,
    });
    equal(restarted.status, 200);
    await restarted.body?.cancel();
    equal(api.instances.origins.get("notes:alice"), "request");
    const admin = await call(api, "POST", "/api/instances/spawn", {
      token: ADMIN_TOKEN,
      body: JSON.stringify({ process: "notes", id: "carol" }),
    });
    equal(admin.status, 200);
    await admin.body?.cancel();
    equal(api.instances.origins.get("notes:carol"), "api");
  });
});

Deno.test("API: /metrics needs an admin token; metrics_bind's handler needs none", async (t) => {
  const api = await makeApi();
  await api.instances.spawn({ service: "notes", id: "alice" });
  await t.step("no token: 401; a tenant token: 403; the admin: 200", async () => {
    const anonymous = await call(api, "GET", "/metrics");
    equal(anonymous.status, 401);
    await anonymous.body?.cancel();
    const tenant = await call(api, "GET", "/metrics", { token: ALICE_TOKEN });
    equal(tenant.status, 403);
    await tenant.body?.cancel();
    const admin = await call(api, "GET", "/metrics", { token: ADMIN_TOKEN });
    equal(admin.status, 200);
    match(await admin.text(), /^tenement_instance_healthy\{instance="alice",process="notes"\} 1$/m);
  });
  await t.step("metrics_instance_label = false sums the series per service", async () => {
    const unlabelled = await makeApi(undefined, { metricsInstanceLabel: false });
    await unlabelled.instances.spawn({ service: "notes", id: "alice" });
    await unlabelled.instances.spawn({ service: "notes", id: "bob" });
    const text = await (await call(unlabelled, "GET", "/metrics", { token: ADMIN_TOKEN })).text();
    ok(!text.includes("alice") && !text.includes("bob"), text);
    match(text, /^tenement_instance_healthy\{process="notes"\} 2$/m);
  });
  await t.step(
    "the metrics listener serves /metrics without a token and nothing else",
    async () => {
      const handler = createMetricsHandler(api.deps);
      const res = handler(new Request("http://127.0.0.1:9100/metrics"));
      equal(res.status, 200);
      match(await res.text(), /tenement_instances_up 1/);
      const other = handler(new Request("http://127.0.0.1:9100/api/instances"));
      equal(other.status, 404);
      await other.body?.cancel();
    },
  );
});

Deno.test("API: a body over 2 MiB is refused with 413 without reading the rest", async (t) => {
  const api = await makeApi();
  const spawnWith = (body: ReadableStream<Uint8Array>, headers: Record<string, string> = {}) =>
    api.handle(
      new Request("http://tenement.local/api/instances/spawn", {
        method: "POST",
        headers: {
          authorization: `Bearer ${ADMIN_TOKEN}`,
          "content-type": "application/json",
          ...headers,
        },
        body,
      }),
      "203.0.113.7",
    );
  /** An endless body of 64 KiB chunks that counts what was read. */
  const endless = () => {
    const counter = { bytes: 0 };
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        counter.bytes += 65_536;
        controller.enqueue(new Uint8Array(65_536).fill(0x20));
      },
    });
    return { stream, counter };
  };
  await t.step("a chunked body stops being read past the limit", async () => {
    const { stream, counter } = endless();
    const res = await spawnWith(stream);
    equal(res.status, 413);
    match((await res.json() as ErrorBody).error, /too large/);
    ok(counter.bytes <= MAX_JSON_BYTES + 4 * 65_536, `read ${counter.bytes} bytes`);
  });
  await t.step("a declared Content-Length over the limit is refused unread", async () => {
    const { stream, counter } = endless();
    const res = await spawnWith(stream, { "content-length": String(100 * 1024 * 1024) });
    equal(res.status, 413);
    await res.body?.cancel();
    ok(counter.bytes <= 2 * 65_536, `read ${counter.bytes} bytes`);
  });
  await t.step("a body just under the limit is still read", async () => {
    const padded = JSON.stringify({
      process: "notes",
      id: "alice",
      pad: "x".repeat(MAX_JSON_BYTES - 100),
    });
    const res = await call(api, "POST", "/api/instances/spawn", {
      token: ADMIN_TOKEN,
      body: padded,
    });
    equal(res.status, 200);
    await res.body?.cancel();
  });
});

Deno.test("API: log streams are capped per token and drop lines for a slow reader", async (t) => {
  const api = await makeApi();
  await api.instances.spawn({ service: "notes", id: "alice" });
  const open = (token: string) => call(api, "GET", "/api/logs/stream", { token });
  const streams: Response[] = [];
  await t.step(`${MAX_STREAMS_PER_TOKEN} streams per token, then 429`, async () => {
    for (let i = 0; i < MAX_STREAMS_PER_TOKEN; i++) {
      const res = await open(ALICE_TOKEN);
      equal(res.status, 200);
      streams.push(res);
    }
    const refused = await open(ALICE_TOKEN);
    equal(refused.status, 429);
    match((await refused.json() as ErrorBody).error, /Too many log streams/);
    // Another token has its own allowance.
    const admin = await open(ADMIN_TOKEN);
    equal(admin.status, 200);
    await admin.body?.cancel();
  });
  await t.step("closing a stream frees its slot", async () => {
    await streams.pop()!.body?.cancel();
    const again = await open(ALICE_TOKEN);
    equal(again.status, 200);
    streams.push(again);
  });
  await t.step("a reader that does not read gets a bounded queue and a drop count", async () => {
    // Half of the lines are alice's: more than the queue holds.
    const total = 2 * STREAM_QUEUE_LINES + 500;
    for (let i = 0; i < total; i++) {
      api.logs.emit({
        timestamp: i,
        level: "stdout",
        process: "notes",
        instance_id: i % 2 === 0 ? "alice" : "bob",
        message: `line ${i}`,
        id: i + 1,
      });
    }
    // Now read what one stream kept: its queue, a marker, and nothing of bob's.
    api.logs.emit({
      timestamp: total,
      level: "stdout",
      process: "notes",
      instance_id: "alice",
      message: "after",
      id: total + 1,
    });
    const reader = streams[0]!.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    while (!text.includes("line")) text += decoder.decode((await reader.read()).value);
    let events = 0;
    while (events < STREAM_QUEUE_LINES) {
      const { value } = await reader.read();
      text += decoder.decode(value);
      events = text.split("\n\n").length - 1;
    }
    ok(!text.includes('"bob"'), "a tenant's stream carried another tenant's line");
    // Alice's half filled the queue exactly; her next lines were dropped, then counted.
    const lines = text.split("\n\n").filter((event) => event.includes("data: "));
    equal(lines.length, STREAM_QUEUE_LINES);
    api.logs.emit({
      timestamp: total + 1,
      level: "stdout",
      process: "notes",
      instance_id: "alice",
      message: "late",
      id: total + 2,
    });
    while (!text.includes("late")) text += decoder.decode((await reader.read()).value);
    match(text, new RegExp(`: dropped ${total / 2 + 1 - STREAM_QUEUE_LINES} lines`));
    await reader.cancel();
    for (const stream of streams.slice(1)) await stream.body?.cancel();
  });
});

Deno.test("API: /api/telemetry reuses data dir sizes across dashboard polls instead of walking every dir each time", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const api = await makeApi();
    await call(api, "POST", "/api/instances/spawn", {
      token: ADMIN_TOKEN,
      body: JSON.stringify({ process: "notes", id: "alice" }),
    });
    const config = parseConfig('[settings]\ndata_dir = "data"\n[service.notes]\ncommand = "x"\n', {
      path: `${dir}/tenement.toml`,
    });
    let nowMs = 0;
    const storage = new StorageMeter(config, { now: () => nowMs });
    const handle = createApiHandler({ ...api.deps, storage });
    const usedBytes = async (): Promise<number> => {
      const res = await handle(
        new Request("http://tenement.local/api/telemetry", {
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        }),
        "203.0.113.7",
      );
      const body = await res.json() as { instances: { storage_used_bytes: number }[] };
      return body.instances[0]!.storage_used_bytes;
    };
    equal(await usedBytes(), 0);
    await Deno.mkdir(`${dir}/data/notes/alice`, { recursive: true });
    await Deno.writeFile(`${dir}/data/notes/alice/db`, new Uint8Array(64));
    for (const pollMs of [5_000, 10_000, 30_000]) {
      nowMs = pollMs;
      equal(await usedBytes(), 0, `the poll at ${pollMs} ms walks no data dir`);
    }
    nowMs = TELEMETRY_STORAGE_MAX_AGE_MS;
    equal(await usedBytes(), 64, "then it is measured again");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * The messages `GET path` answers to a tenant token `token` with `record`'s reach, over a real
 * log store that `fill` writes first.
 */
async function logMessagesAs(
  token: string,
  record: Omit<TokenRecord, "tokenId" | "sha256">,
  fill: (logs: LogStore) => void,
  path: string,
): Promise<string[]> {
  const dir = await Deno.makeTempDir();
  try {
    const api = await makeApi();
    const full: TokenRecord = {
      ...record,
      tokenId: tokenIdOf(token),
      sha256: await hashToken(token),
    };
    using logs = LogStore.open(`${dir}/logs.db`, { retentionIntervalMs: 0 });
    fill(logs);
    const handle = createApiHandler({
      ...api.deps,
      logs,
      tokens: {
        ...api.deps.tokens,
        getToken: (tokenId) => Promise.resolve(tokenId === full.tokenId ? full : undefined),
      },
    });
    const res = await handle(
      new Request(`http://tenement.local${path}`, {
        headers: { authorization: `Bearer ${token}` },
      }),
      "203.0.113.7",
    );
    equal(res.status, 200);
    return (await res.json() as LogEntryJson[]).map((entry) => entry.message);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("API: a tenant token for one instance (service:id) reads that instance's logs", async () => {
  const messages = await logMessagesAs(
    "pinned-tk-0123456789",
    { tenant: "notes:Alice" },
    (logs) => {
      logs.append("notes", "alice", "stdout", "mine");
      logs.append("other", "alice", "stdout", "not mine");
    },
    "/api/logs",
  );
  deepEqual(messages, ["mine"]);
});

Deno.test("API: a tenant narrowed to some services gets its newest lines up to the limit, not fewer", async () => {
  const messages = await logMessagesAs(
    "narrow-tk-0123456789",
    { tenant: "alice", services: ["notes"] },
    (logs) => {
      for (let i = 0; i < 5; i++) logs.append("notes", "alice", "stdout", `mine ${i}`);
      // Newer lines of alice's instance in a service the token does not reach.
      for (let i = 0; i < 10; i++) logs.append("other", "alice", "stdout", `not mine ${i}`);
    },
    "/api/logs?limit=3",
  );
  deepEqual(messages, ["mine 2", "mine 3", "mine 4"]);
});
