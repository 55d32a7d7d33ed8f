/**
 * The whole Deno KV key layout, in one place. Collections are plural snake_case; values are small
 * plain objects with a `v` schema field.
 *
 * | key | value |
 * |---|---|
 * | `["meta", "schema_version"]` | number |
 * | `["instances", service, id]` | InstanceValue: desired state, origin, restarts, live process group |
 * | `["weights", service, id]` | WeightValue: traffic weight 0-100 |
 * | `["tokens", "admin"]` | TokenValue: SHA-256 of the admin token |
 * | `["tokens", tokenId]` | TokenValue of a tenant token |
 * | `["tokens_by_tenant", tenant, tokenId]` | true |
 * | `["routes", service]` | RouteValue: the weights the last route change replaced (rollback) |
 * | `["audit", timeMs, seq]` | AuditValue: one management action |
 * @module
 */

/** KV keys, built only here. */
export const keys = {
  schemaVersion: (): Deno.KvKey => ["meta", "schema_version"],
  instance: (service: string, id: string): Deno.KvKey => ["instances", service, id],
  instances: (): Deno.KvKey => ["instances"],
  weight: (service: string, id: string): Deno.KvKey => ["weights", service, id],
  weights: (): Deno.KvKey => ["weights"],
  adminToken: (): Deno.KvKey => ["tokens", "admin"],
  token: (tokenId: string): Deno.KvKey => ["tokens", tokenId],
  tokens: (): Deno.KvKey => ["tokens"],
  lastRoute: (service: string): Deno.KvKey => ["routes", service],
  audit: (timeMs: number, seq: number): Deno.KvKey => ["audit", timeMs, seq],
  audits: (): Deno.KvKey => ["audit"],
  tokenByTenant: (tenant: string, tokenId: string): Deno.KvKey => [
    "tokens_by_tenant",
    tenant,
    tokenId,
  ],
} as const;

/** Current layout version, written on open. */
export const SCHEMA_VERSION = 1;
