/**
 * `ten token list` and `ten token revoke`: the daemon's tokens (never their secrets) and their
 * revocation, through the API with an admin token.
 * @module
 */
import type { TokenJson } from "../../api/wire.ts";
import type { GlobalOptions } from "../global_options.ts";
import { out } from "../output.ts";
import { clientFor } from "./client_verbs.ts";

/** `ten token list [--json]`. */
export async function tokenListVerb(
  options: { json?: boolean },
  globals: GlobalOptions,
): Promise<number> {
  const tokens = await (await clientFor(globals)).listTokens();
  if (options.json) {
    out.json(tokens);
    return 0;
  }
  if (tokens.length === 0) {
    out.line("No tokens");
    return 0;
  }
  const rows = [
    ["ID", "KIND", "SCOPE", "LABEL", "CREATED", "LAST USED", "EXPIRES"],
    ...tokens.map((t) => [
      t.id,
      t.kind,
      t.scope,
      t.label ?? "-",
      shortTime(t.created_at),
      t.last_used_at === null ? "never" : shortTime(t.last_used_at),
      expiryOf(t),
    ]),
  ];
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
  for (const row of rows) {
    out.line(row.map((cell, col) => cell.padEnd(widths[col]!)).join("  ").trimEnd());
  }
  return 0;
}

/** `ten token revoke ID [--force]`. */
export async function tokenRevokeVerb(
  tokenId: string,
  options: { force?: boolean },
  globals: GlobalOptions,
): Promise<number> {
  const { revoked } = await (await clientFor(globals)).revokeToken(
    tokenId,
    options.force === true,
  );
  const label = revoked.label === null ? "" : `, "${revoked.label}"`;
  out.line(`Revoked token ${revoked.id} (${revoked.kind}: ${revoked.scope}${label})`);
  return 0;
}

/** `2026-11-29T18:33:43.000Z` as `2026-11-29 18:33Z`. */
function shortTime(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}Z`;
}

function expiryOf(token: TokenJson): string {
  if (token.expires_at === null) return "never";
  return `${shortTime(token.expires_at)}${token.expired ? " (expired)" : ""}`;
}
