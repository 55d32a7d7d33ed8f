/**
 * `ten token-gen`: makes an admin token (replacing the old one, saved to `{data_dir}/api_token`)
 * or a tenant token. Works on the state file directly; a running daemon accepts it at once.
 * @module
 */
import { assertValidName } from "../../core/instance_key.ts";
import { StateStore } from "../../store/state_store.ts";
import { issueAdminToken, issueTenantToken } from "../../store/tokens.ts";
import { type GlobalOptions, loadConfigFor } from "../global_options.ts";
import { out } from "../output.ts";

/** `ten token-gen [--tenant T] [--description D]`. */
export async function tokenGenVerb(
  options: { tenant?: string; description?: string },
  globals: GlobalOptions,
): Promise<number> {
  const config = await loadConfigFor(globals);
  const dataDir = config.settings.dataDir;
  if (options.tenant !== undefined) {
    const parts = options.tenant.split(":");
    if (parts.length > 2) assertValidName(options.tenant, "id", "tenant");
    for (const part of parts) assertValidName(part, "id", "tenant");
  }
  await Deno.mkdir(dataDir, { recursive: true });
  using store = await StateStore.open(`${dataDir}/tenement.kv`);
  if (options.tenant !== undefined) {
    const token = await issueTenantToken(store, options.tenant, options.description, Date.now());
    out.line(`Generated tenant token for '${options.tenant}':`);
    out.line();
    out.line(`  ${token}`);
    out.line();
    out.line(`This token can only access instances/logs for tenant '${options.tenant}'.`);
    out.line("Deploy and route operations are admin-only.");
    return 0;
  }
  const token = await issueAdminToken(store, Date.now());
  const file = `${dataDir}/api_token`;
  await Deno.writeTextFile(file, `${token}\n`, { mode: 0o600 });
  await Deno.chmod(file, 0o600);
  out.line("Generated admin API token:");
  out.line();
  out.line(`  ${token}`);
  out.line();
  out.line(`Token saved to ${file}`);
  out.line(`Use it in the Authorization header: Bearer ${token}`);
  return 0;
}
