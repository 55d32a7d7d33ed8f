/**
 * `ten token-gen`: makes an admin token (replacing the one saved to `{data_dir}/.tenement/api_token`, or
 * an additional one with `--add`), a tenant token or a metrics token. Works on the state file
 * directly; a running daemon accepts it at once.
 * @module
 */
import type { Config } from "../../config/schema.ts";
import { InvalidInputError } from "../../core/errors.ts";
import { assertValidName } from "../../core/instance_key.ts";
import { assertNotSymlink, ensureDataDir, writeSecretFile } from "../../store/private_files.ts";
import { StateStore } from "../../store/state_store.ts";
import { ensureStateDir } from "../../store/state_layout.ts";
import { locateStatePaths } from "../state_location.ts";
import { issueToken, type TokenGrantRequest } from "../../store/tokens.ts";
import { type GlobalOptions, loadConfigFor } from "../global_options.ts";
import { out } from "../output.ts";
import { parseExpiry } from "./token_expiry.ts";

/** Options of `ten token-gen`. */
export interface TokenGenOptions {
  readonly tenant?: string | undefined;
  readonly services?: string | undefined;
  readonly metrics?: boolean | undefined;
  readonly add?: boolean | undefined;
  readonly description?: string | undefined;
  readonly expires?: string | undefined;
}

/** `ten token-gen [--tenant T [--services a,b] | --metrics | --add] [--description D] [--expires E]`. */
export async function tokenGenVerb(
  options: TokenGenOptions,
  globals: GlobalOptions,
): Promise<number> {
  const config = await loadConfigFor(globals);
  const dataDir = config.settings.dataDir;
  const nowMs = Date.now();
  const grant = grantOf(options, config);
  const expiresAtMs = options.expires === undefined
    ? undefined
    : parseExpiry(options.expires, nowMs);
  // A daemon of an earlier version that was not restarted yet keeps its files at the top.
  const paths = await locateStatePaths(dataDir);
  if (paths.dir === dataDir) await ensureDataDir(dataDir);
  else await ensureStateDir(dataDir);
  const file = paths.apiToken;
  // Refuse a link at the file's path before any token is stored.
  if (grant.kind === "admin" && grant.isFileToken) await assertNotSymlink(file);
  using store = await StateStore.open(paths.stateFile);
  const { token } = await issueToken(store, grant, {
    description: options.description,
    nowMs,
    expiresAtMs,
  });
  const expiryLine = expiresAtMs === undefined
    ? []
    : [`It expires at ${new Date(expiresAtMs).toISOString()}.`];
  switch (grant.kind) {
    case "tenant":
      printToken(`Generated tenant token for '${grant.tenant}':`, token, [
        `This token can only access instances/logs for tenant '${grant.tenant}'.`,
        "Deploy and route operations are admin-only.",
        ...(grant.services === undefined
          ? []
          : [`It is limited to the services: ${grant.services.join(", ")}.`]),
        ...expiryLine,
      ]);
      return 0;
    case "metrics":
      printToken("Generated metrics token:", token, [
        "This token can only read /metrics (every /api route refuses it).",
        ...expiryLine,
      ]);
      return 0;
    case "admin":
      if (grant.isFileToken) await writeSecretFile(file, `${token}\n`);
      printToken("Generated admin API token:", token, [
        grant.isFileToken
          ? `Token saved to ${file}`
          : `Not saved to a file; the admin token in ${file} still works.`,
        `Use it in the Authorization header: Bearer ${token}`,
        ...expiryLine,
      ]);
      return 0;
  }
}

/** The spec's layout: a title, a blank line, the token indented by two spaces, a blank line. */
function printToken(title: string, token: string, after: readonly string[]): void {
  out.line(title);
  out.line();
  out.line(`  ${token}`);
  out.line();
  for (const line of after) out.line(line);
}

function grantOf(options: TokenGenOptions, config: Config): TokenGrantRequest {
  const kinds = [
    options.tenant === undefined ? [] : ["--tenant"],
    options.metrics === true ? ["--metrics"] : [],
    options.add === true ? ["--add"] : [],
  ].flat();
  if (kinds.length > 1) {
    throw new InvalidInputError(`Cannot combine ${kinds.join(" and ")}: pick one kind of token`);
  }
  if (options.services !== undefined && options.tenant === undefined) {
    throw new InvalidInputError("--services narrows a tenant token: use it with --tenant <id>");
  }
  if (options.metrics === true) return { kind: "metrics" };
  if (options.tenant === undefined) return { kind: "admin", isFileToken: options.add !== true };
  const tenant = options.tenant;
  const parts = tenant.split(":");
  if (parts.length > 2) assertValidName(tenant, "id", "tenant");
  for (const part of parts) assertValidName(part, "id", "tenant");
  if (options.services === undefined) return { kind: "tenant", tenant, services: undefined };
  if (parts.length === 2) {
    throw new InvalidInputError(
      `Cannot narrow "${tenant}" with --services: it already names one instance (use --tenant ${
        parts[1]
      } --services ${parts[0]})`,
      "services",
    );
  }
  const names = [...new Set(options.services.split(",").map((s) => s.trim()))];
  for (const name of names) {
    assertValidName(name, "service", "services");
    if (!config.services.has(name)) {
      throw new InvalidInputError(
        `Invalid --services: service "${name}" is not defined in ${config.path}`,
        "services",
      );
    }
  }
  return { kind: "tenant", tenant, services: names };
}
