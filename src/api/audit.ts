/**
 * The audit trail of management actions: who did what to which instance, and how it ended.
 * @module
 */
import { messageOf } from "../core/errors.ts";
import type { AuditRecord } from "./api_ports.ts";
import type { Identity } from "./auth.ts";

/** Where audit entries go. */
export type AuditSink = (entry: AuditRecord) => Promise<void>;

/** Describes the caller for the audit trail; never includes any part of a token. */
function actorOf(identity: Identity): string {
  return identity.kind === "tenant" ? `tenant:${identity.tenant}` : identity.kind;
}

/** Runs `action` and records its outcome (the error message when it fails). */
export async function audited<T>(
  sink: AuditSink,
  now: () => number,
  what: { identity: Identity; action: string; target: string; details?: string },
  action: () => Promise<T>,
): Promise<T> {
  const base = {
    atMs: now(),
    actor: actorOf(what.identity),
    action: what.action,
    target: what.target,
  };
  try {
    const result = await action();
    await sink({ ...base, outcome: "ok", details: what.details ?? "" });
    return result;
  } catch (err: unknown) {
    const message = messageOf(err);
    await sink({
      ...base,
      outcome: "error",
      details: what.details ? `${what.details}: ${message}` : message,
    });
    throw err;
  }
}
