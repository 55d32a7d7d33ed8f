import { deepEqual, equal } from "node:assert/strict";
import { applicableConfig, diffConfigs, isStartChanged } from "./config_diff.ts";
import { parseConfig } from "./parse_config.ts";
import type { Config } from "./schema.ts";

function configOf(toml: string): Config {
  return parseConfig(toml, { path: "/srv/tenement.toml" });
}

const BASE = `
[service.notes]
command = "notes {id}"
env = { A = "1", B = "2" }
`;

Deno.test("diffConfigs() names changed keys by their TOML names and ignores key order", () => {
  const old = configOf(BASE);
  const reordered = configOf(BASE.replace('{ A = "1", B = "2" }', '{ B = "2", A = "1" }'));
  deepEqual(diffConfigs(old, reordered).changed, []);
  const next = configOf(`${BASE}idle_timeout = 30\nhealth = "/health"\n`);
  deepEqual(diffConfigs(old, next).changed, [
    { service: "notes", keys: ["health", "idle_timeout"] },
  ]);
  equal(isStartChanged(old.services.get("notes")!, next.services.get("notes")!), true);
  const idleOnly = configOf(`${BASE}idle_timeout = 30\n`);
  equal(isStartChanged(old.services.get("notes")!, idleOnly.services.get("notes")!), false);
});

Deno.test("diffConfigs() reports a new data_dir once, not as a TLS change too", () => {
  const old = configOf(`[settings]\ndata_dir = "/a"\n${BASE}`);
  const next = configOf(`[settings]\ndata_dir = "/b"\nbackoff_max_ms = 5000\n${BASE}`);
  const diff = diffConfigs(old, next);
  deepEqual(diff.needsRestart, ["settings.data_dir"]);
  deepEqual(diff.settings, ["settings.backoff_max_ms"]);
  const applied = applicableConfig(old, next);
  equal(applied.settings.dataDir, "/a");
  equal(applied.settings.tls.cacheDir, "/a/.tenement/acme");
  equal(applied.settings.backoffMaxMs, 5000);
});

Deno.test("diffConfigs() sees [instances] and [settings.tls] changes", () => {
  const old = configOf(`${BASE}\n[instances]\nnotes = ["a"]\n`);
  const next = configOf(
    `[settings.tls]\nenabled = true\nacme_email = "x@example.com"\n${BASE}\n[instances]\nnotes = ["a", "b"]\n`,
  );
  const diff = diffConfigs(old, next);
  equal(diff.isInstancesChanged, true);
  deepEqual(diff.needsRestart, ["settings.tls"]);
});

Deno.test("diffConfigs() lists env_clear and env_passthrough as keys applied at the next start", () => {
  const old = configOf(BASE);
  const next = configOf(`${BASE}env_clear = true\nenv_passthrough = ["GOCACHE"]\n`);
  deepEqual(diffConfigs(old, next).changed, [
    { service: "notes", keys: ["env_clear", "env_passthrough"] },
  ]);
  equal(isStartChanged(old.services.get("notes")!, next.services.get("notes")!), true);
});
