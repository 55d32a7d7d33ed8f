/**
 * The whole Deno KV key layout, in one place. Collections are plural snake_case; values are small
 * plain objects with a `v` schema field.
 *
 * | key | value |
 * |---|---|
 * | `["meta", "schema_version"]` | number |
 * | `["instances", service, id]` | InstanceValue: desired state, origin, restarts, live process group |
 * | `["weights", service, id]` | WeightValue: traffic weight 0-100 |
 * | `["tokens", tokenId]` | TokenValue: kind, scope, label, times and SHA-256 of an API token |
 * | `["tokens", "admin"]` | TokenValue of the admin token made before tokens had ids |
 * | `["tokens_by_tenant", tenant, tokenId]` | true |
 * | `["tokens_last_used", tokenId]` | `{ v, atMs }`: last use, written at most once a minute |
 * | `["routes", service]` | RouteValue: the weights the last route change replaced (rollback) |
 * | `["audit", timeMs, seq]` | AuditValue: one management action |
 * | `["uids", uid]` | UidValue: the instance `user = "auto"` gave this uid (and gid) to |
 * | `["uids_by_instance", service, id]` | `{ v, uid }`: that instance's uid |
 * @module
 */

/** KV keys, built only here. */
export const keys = {
  schemaVersion: (): Deno.KvKey => ["meta", "schema_version"],
  instance: (service: string, id: string): Deno.KvKey => ["instances", service, id],
  instances: (): Deno.KvKey => ["instances"],
  weight: (service: string, id: string): Deno.KvKey => ["weights", service, id],
  weights: (): Deno.KvKey => ["weights"],
  token: (tokenId: string): Deno.KvKey => ["tokens", tokenId],
  tokens: (): Deno.KvKey => ["tokens"],
  tokenLastUsed: (tokenId: string): Deno.KvKey => ["tokens_last_used", tokenId],
  tokensLastUsed: (): Deno.KvKey => ["tokens_last_used"],
  lastRoute: (service: string): Deno.KvKey => ["routes", service],
  audit: (timeMs: number, seq: number): Deno.KvKey => ["audit", timeMs, seq],
  audits: (): Deno.KvKey => ["audit"],
  uid: (uid: number): Deno.KvKey => ["uids", uid],
  uids: (): Deno.KvKey => ["uids"],
  uidByInstance: (service: string, id: string): Deno.KvKey => ["uids_by_instance", service, id],
  tokenByTenant: (tenant: string, tokenId: string): Deno.KvKey => [
    "tokens_by_tenant",
    tenant,
    tokenId,
  ],
} as const;

/**
 * Current layout version, written on open. 2: token records carry a kind, scope and expiry, and
 * several admin tokens may exist.
 */
export const SCHEMA_VERSION = 2;
