/**
 * What `ten install` set up on this server, read back from its systemd unit: the config and data
 * dir the service uses and where its plain listener is. Client verbs run on the server without a
 * `tenement.toml` nearby use these, so `ten ps`, `ten reload` and `ten certs` work there without
 * flags.
 * @module
 */
import { INSTALL_PATHS } from "./systemd_unit.ts";

/** The installed service's settings (each undefined when the unit does not say). */
export interface InstalledService {
  /** `TENEMENT_CONFIG` of the unit. */
  readonly config: string | undefined;
  /** `TENEMENT_DATA_DIR` of the unit. */
  readonly dataDir: string | undefined;
  /** Where `ten serve --port P [--bind ADDR]` of the unit is reached from this machine. */
  readonly server: string | undefined;
}

/** One `Environment=` value of the unit, plain or double-quoted. */
function environmentValue(unit: string, name: string): string | undefined {
  for (const m of unit.matchAll(/^Environment=(.*)$/gm)) {
    const raw = m[1]!.trim();
    const text = raw.startsWith('"') && raw.endsWith('"')
      ? raw.slice(1, -1).replace(/\\(.)/g, "$1")
      : raw;
    if (text.startsWith(`${name}=`)) return text.slice(name.length + 1).replaceAll("%%", "%");
  }
  return undefined;
}

/**
 * Reads the settings from a unit's text. A `--bind` to all addresses or a loopback one is reached
 * on 127.0.0.1; another address is reached there.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * const unit = [
 *   "ExecStart=/usr/local/bin/ten serve --port 8080 --domain example.com --tls --email a@b.co",
 *   "Environment=TENEMENT_CONFIG=/etc/tenement/tenement.toml",
 *   'Environment="TENEMENT_DATA_DIR=/srv/my data"',
 * ].join("\n");
 * deepEqual(parseInstalledUnit(unit), {
 *   config: "/etc/tenement/tenement.toml",
 *   dataDir: "/srv/my data",
 *   server: "http://127.0.0.1:8080",
 * });
 * ```
 */
export function parseInstalledUnit(unit: string): InstalledService {
  const exec = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? "";
  const words = [...exec.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
  const after = (flag: string): string | undefined => {
    const at = words.indexOf(flag);
    return at < 0 ? undefined : words[at + 1];
  };
  const port = after("--port");
  const bind = after("--bind");
  const host = bind === undefined || bind === "0.0.0.0" || bind === "::" ||
      bind.startsWith("127.") || bind === "::1" || words.includes("--tls")
    ? "127.0.0.1"
    : bind.includes(":")
    ? `[${bind}]`
    : bind;
  return {
    config: environmentValue(unit, "TENEMENT_CONFIG"),
    dataDir: environmentValue(unit, "TENEMENT_DATA_DIR"),
    server: port !== undefined && /^\d+$/.test(port) ? `http://${host}:${port}` : undefined,
  };
}

/** The installed service, or undefined when this machine has none (or it cannot be read). */
export async function readInstalledService(
  unitPath: string = INSTALL_PATHS.unit,
): Promise<InstalledService | undefined> {
  try {
    return parseInstalledUnit(await Deno.readTextFile(unitPath));
  } catch {
    return undefined;
  }
}
