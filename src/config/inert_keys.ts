/**
 * Keys `tenement.toml` accepts (so files written for the original tenement keep loading) but that
 * this version does not act on yet. Each one set in a file becomes a warning naming the key and
 * where it is written, which `ten serve` and `ten config` show. Pure: no I/O.
 * @module
 */
import { entriesOf, tableOf } from "./config_fields.ts";
import {
  findKeyPosition,
  formatKeyPath,
  type KeyPositionIndex,
  type KeySegment,
} from "./key_positions.ts";
import type { ConfigWarning } from "./schema.ts";

const ISOLATION_NOT_RUN =
  'only isolation = "process", "namespace" and "sandbox" run, so instances of this service will fail to start';
const ONLY_PROCESS =
  'used only by isolation modes this version does not run (it runs "process", "namespace" and "sandbox")';
/** The isolation levels that run. */
const RUNNING_ISOLATIONS = ["process", "namespace", "sandbox"];

/** `[service.X]` keys that are parsed but not acted on, with what the user should know. */
const INERT_SERVICE_KEYS: Readonly<Record<string, string>> = {
  storage_quota_mb:
    "not enforced yet: the quota is only reported (storage_quota_bytes in the API), nothing warns or stops at it",
  image: ONLY_PROCESS,
  rootfs: ONLY_PROCESS,
  kernel: ONLY_PROCESS,
  memory_mb: ONLY_PROCESS,
  vcpus: ONLY_PROCESS,
  vsock_port: ONLY_PROCESS,
};

const DNS_PROVIDER_UNUSED =
  'not used: built-in TLS validates wildcards through "settings.tls.dns_hook" (an executable called as HOOK set|unset FQDN VALUE); DNS provider names are for ten caddy --dns-provider';
const ROUTING_NOT_USED =
  "not used yet: [routing] is checked but requests are routed by host name only";

/**
 * Warnings for the inert keys set in `root` (the parsed TOML).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { indexKeyPositions } from "./key_positions.ts";
 * const text = '[service.app]\ncommand = "./app"\nimage = "alpine"\n';
 * const root = { service: { app: { command: "./app", image: "alpine" } } };
 * const warnings = findInertKeys(root, { file: "tenement.toml", positions: indexKeyPositions(text) });
 * deepEqual(warnings.map((w) => w.message), [
 *   'tenement.toml:3:1: "service.app.image" is set but used only by isolation modes this version does not run (it runs "process", "namespace" and "sandbox")',
 * ]);
 * ```
 */
export function findInertKeys(
  root: Readonly<Record<string, unknown>>,
  source: { readonly file: string; readonly positions: KeyPositionIndex },
): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  const warn = (path: readonly KeySegment[], why: string): void => {
    const { line, column } = findKeyPosition(source.positions, path);
    const key = formatKeyPath(path);
    warnings.push({
      at: { file: source.file, line, column, key },
      message: `${source.file}:${line}:${column}: "${key}" is set but ${why}`,
    });
  };
  for (const [name, service] of entriesOf(root["service"])) {
    const table = tableOf(service);
    for (const key of Object.keys(table)) {
      const why = INERT_SERVICE_KEYS[key];
      if (why !== undefined) warn(["service", name, key], why);
    }
    const isolation = table["isolation"];
    if (typeof isolation === "string" && !RUNNING_ISOLATIONS.includes(isolation)) {
      warn(["service", name, "isolation"], `not implemented yet: ${ISOLATION_NOT_RUN}`);
    }
    if (table["mounts"] !== undefined && isolation !== "sandbox") {
      warn(["service", name, "mounts"], 'used only with isolation = "sandbox" (binds into it)');
    }
  }
  if (tableOf(tableOf(root["settings"])["tls"])["dns_provider"] !== undefined) {
    warn(["settings", "tls", "dns_provider"], DNS_PROVIDER_UNUSED);
  }
  for (const key of Object.keys(tableOf(root["routing"]))) {
    warn(["routing", key], ROUTING_NOT_USED);
  }
  return warnings.toSorted((a, b) => a.at.line - b.at.line || a.at.column - b.at.column);
}
