/**
 * `ten install` and `ten uninstall`: run `ten serve` as a systemd service. Install writes a starter
 * config when the server has none, the data dir and the unit, then enables and starts it;
 * `--dry-run` prints every action and every file instead, and needs no root.
 * @module
 */
import { legacyStatePaths, statePaths } from "../../core/state_paths.ts";
import { loadConfig } from "../../config/load_config.ts";
import { InvalidInputError, messageOf, TenementError } from "../../core/errors.ts";
import { resolvePath } from "../../config/config_paths.ts";
import type { GlobalOptions } from "../global_options.ts";
import { writeFileAtomic } from "../write_file_atomic.ts";
import { exists } from "./init.ts";
import { err, out } from "../output.ts";
import { INSTALL_PATHS, renderUnit, starterConfig } from "../systemd_unit.ts";
import { readInstalledService } from "../installed_service.ts";
import { emailProblem, tlsDomainProblem } from "../../config/tls_values.ts";

/** `ten install` flags. */
export interface InstallOptions {
  readonly domain: string;
  /** Default 80, or 8080 (local only) with built-in TLS. */
  readonly port?: string | undefined;
  /** ACME email: turns on built-in TLS. */
  readonly email?: string | undefined;
  /** DNS-01 hook for wildcard certificates (with `--email`). */
  readonly dnsHook?: string | undefined;
  readonly bind?: string | undefined;
  readonly bin?: string | undefined;
  readonly dryRun?: boolean | undefined;
}

/** `ten uninstall` flags. */
export interface UninstallOptions {
  readonly purge?: boolean | undefined;
  readonly dryRun?: boolean | undefined;
}

/** One step of an install, shown by --dry-run and carried out otherwise. */
type Action =
  | { readonly kind: "write"; readonly path: string; readonly text: string; readonly mode: number }
  | { readonly kind: "mkdir"; readonly path: string; readonly mode: number }
  | { readonly kind: "remove"; readonly path: string }
  | { readonly kind: "run"; readonly argv: readonly string[]; readonly mayFail?: boolean };

const DOMAIN =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

function absolute(path: string): string {
  return resolvePath(Deno.cwd(), path);
}

/** `--domain`: a DNS name, lower-cased, without a trailing dot; InvalidInputError otherwise. */
export function parseDomain(text: string): string {
  const domain = text.toLowerCase().replace(/\.$/, "");
  if (!DOMAIN.test(domain)) {
    throw new InvalidInputError(
      `Invalid --domain '${text}': expected a DNS name such as app.example.com`,
    );
  }
  return domain;
}

/** `--port`: 1-65535; InvalidInputError otherwise. */
export function parsePort(text: string): number {
  const port = Number(text);
  if (!/^[0-9]+$/.test(text) || port < 1 || port > 65535) {
    throw new InvalidInputError(`Invalid --port '${text}': expected a number from 1 to 65535`);
  }
  return port;
}

/** True when `dir` holds tenement's state file (in `.tenement/`, or at the top as before). */
async function holdsStateFile(dir: string): Promise<boolean> {
  return await exists(statePaths(dir).stateFile) || await exists(legacyStatePaths(dir).stateFile);
}

/** Why an existing `dir` holds something other than tenement's data, if it does. */
async function strangerFiles(dir: string): Promise<string | undefined> {
  if (dir === INSTALL_PATHS.dataDir || await holdsStateFile(dir)) return undefined;
  try {
    for await (const _ of Deno.readDir(dir)) {
      return "it holds other files and no tenement.kv (name an empty or new directory)";
    }
  } catch {
    // Missing: install creates it.
  }
  return undefined;
}

/**
 * The service runs the config's commands as root, so only root may be able to change it: refuse
 * a config owned by another user or writable by group or others.
 */
async function assertRootOnly(path: string): Promise<void> {
  const info = await Deno.stat(path);
  if (info.uid !== 0 || ((info.mode ?? 0) & 0o022) !== 0) {
    throw new TenementError(
      `${path} can be changed by a user other than root, and the service runs its commands as root: ` +
        `chown root and chmod go-w it, or copy it to ${INSTALL_PATHS.config}`,
    );
  }
}

async function assertExecutable(path: string, flag: string): Promise<void> {
  const info = await Deno.stat(path).catch(() => undefined);
  if (!info?.isFile || ((info.mode ?? 0) & 0o111) === 0) {
    throw new InvalidInputError(`Invalid ${flag} '${path}': not an executable file`);
  }
}

/** True when this `ten` runs as `deno run main.ts` from a checkout rather than compiled. */
function isRunFromCheckout(): boolean {
  return /(^|\/)deno$/.test(Deno.execPath());
}

/** Which config the service reads, and whether install has to write a starter one there. */
async function chooseConfig(
  explicit: string | undefined,
): Promise<{ path: string; isStarter: boolean }> {
  if (explicit !== undefined) return { path: absolute(explicit), isStarter: false };
  const here = `${Deno.cwd()}/tenement.toml`;
  if (await exists(here)) return { path: here, isStarter: false };
  return { path: INSTALL_PATHS.config, isStarter: !await exists(INSTALL_PATHS.config) };
}

function chooseBin(explicit: string | undefined, isDryRun: boolean): string {
  if (explicit !== undefined) return absolute(explicit);
  if (!isRunFromCheckout()) return Deno.execPath();
  if (isDryRun) return INSTALL_PATHS.bin;
  throw new TenementError(
    "ten install sets up the compiled ten, and this one runs from a checkout under deno: install " +
      "it with install.sh (or make compile), or name an executable with --bin",
  );
}

function describe(action: Action): string {
  switch (action.kind) {
    case "write":
      return `write ${action.path} (mode ${action.mode.toString(8)})`;
    case "mkdir":
      return `create ${action.path} (mode ${action.mode.toString(8)})`;
    case "remove":
      return `remove ${action.path}`;
    case "run":
      return `run ${action.argv.join(" ")}`;
  }
}

function printPlan(actions: readonly Action[]): void {
  out.line("Dry run: nothing is changed. ten would:");
  actions.forEach((action, i) => out.line(`  ${i + 1}. ${describe(action)}`));
  for (const action of actions) {
    if (action.kind !== "write") continue;
    out.line("");
    out.line(`--- ${action.path}`);
    for (const line of action.text.replace(/\n$/, "").split("\n")) out.line(line);
  }
}

async function runCommand(argv: readonly string[]): Promise<{ code: number; stderr: string }> {
  const result = await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: result.code, stderr: new TextDecoder().decode(result.stderr).trim() };
}

async function carryOut(actions: readonly Action[]): Promise<void> {
  for (const action of actions) {
    out.line(describe(action).replace(/^./, (c) => c.toUpperCase()));
    switch (action.kind) {
      case "write":
        await writeFileAtomic(action.path, action.text, action.mode);
        break;
      case "mkdir":
        await Deno.mkdir(action.path, { recursive: true, mode: action.mode });
        await Deno.chmod(action.path, action.mode);
        break;
      case "remove":
        await Deno.remove(action.path, { recursive: true }).catch((e: unknown) => {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        });
        break;
      case "run": {
        const result = await runCommand(action.argv);
        if (result.code !== 0 && !action.mayFail) {
          throw new TenementError(
            `${action.argv.join(" ")} failed (exit ${result.code})${
              result.stderr ? `: ${result.stderr}` : ""
            }`,
          );
        }
      }
    }
  }
}

async function requireRootAndSystemd(verb: string): Promise<void> {
  if (Deno.uid() !== 0) {
    throw new TenementError(`ten ${verb} needs root (try sudo); --dry-run shows what it would do`);
  }
  if (!await exists("/run/systemd/system")) {
    throw new TenementError(
      `ten ${verb} needs systemd, and this system was not booted with it; --dry-run prints the unit to adapt`,
    );
  }
}

/**
 * `ten install --domain D [--port P] [--bin PATH] [--dry-run]`; the global `--config` names the
 * config the service reads and `--data-dir` its data dir (default /var/lib/tenement).
 */
export async function installVerb(
  options: InstallOptions,
  globals: GlobalOptions,
): Promise<number> {
  const domain = parseDomain(options.domain);
  const email = options.email;
  if (email !== undefined) {
    const problem = emailProblem(email) ?? tlsDomainProblem(domain);
    if (problem !== undefined) throw new InvalidInputError(problem, "email");
  } else if (options.dnsHook !== undefined) {
    throw new InvalidInputError(
      "--dns-hook is for built-in TLS: add --email <you@example.com> too",
      "dns-hook",
    );
  }
  const dnsHook = options.dnsHook === undefined ? undefined : absolute(options.dnsHook);
  if (dnsHook !== undefined && options.dryRun !== true) {
    await assertExecutable(dnsHook, "--dns-hook");
  }
  // With TLS the public ports are 443 and 80 ([settings.tls]); --port is the local plain listener.
  const port = parsePort(options.port ?? (email === undefined ? "80" : "8080"));
  if (options.bind !== undefined && !/^[0-9A-Fa-f.:]+$/.test(options.bind)) {
    throw new InvalidInputError(`Invalid --bind '${options.bind}': expected an IP address`);
  }
  const isDryRun = options.dryRun === true;
  let tlsFromConfig = false;
  const dataDir = globals.dataDir === undefined ? INSTALL_PATHS.dataDir : absolute(globals.dataDir);
  const config = await chooseConfig(globals.config);
  let maxGraceMs = 10_000;
  if (!config.isStarter) {
    if (!await exists(config.path)) {
      throw new TenementError(`Config file not found: ${config.path}`);
    }
    // A config the daemon would refuse is reported now, with file:line, not after the unit starts.
    const parsed = await loadConfig({
      explicit: config.path,
      dataDir,
      env: {},
      cwd: Deno.cwd(),
    });
    for (const svc of parsed.services.values()) {
      maxGraceMs = Math.max(maxGraceMs, svc.stopGracePeriodMs);
    }
    tlsFromConfig = parsed.settings.tls.enabled;
    if (dnsHook !== undefined && parsed.settings.tls.dnsHook !== dnsHook) {
      throw new InvalidInputError(
        `--dns-hook: ${config.path} is the config the service reads; set dns_hook = ${
          JSON.stringify(dnsHook)
        } in its [settings.tls] instead`,
        "dns-hook",
      );
    }
  }
  const dataDirIssue = purgeProblem(dataDir, true) ?? await strangerFiles(dataDir);
  if (dataDirIssue !== undefined) {
    throw new InvalidInputError(`Invalid data dir ${dataDir}: ${dataDirIssue}`, "data-dir");
  }
  if (!isDryRun && !config.isStarter) await assertRootOnly(config.path);
  const bin = chooseBin(options.bin, isDryRun);
  if (options.bin !== undefined && !isDryRun) {
    const info = await Deno.stat(bin).catch(() => undefined);
    if (!info?.isFile || ((info.mode ?? 0) & 0o111) === 0) {
      throw new InvalidInputError(`Invalid --bin '${options.bin}': not an executable file`);
    }
  }
  const actions: Action[] = [];
  if (config.isStarter) {
    actions.push({ kind: "mkdir", path: INSTALL_PATHS.configDir, mode: 0o755 });
    actions.push({
      kind: "write",
      path: config.path,
      text: starterConfig(
        domain,
        dataDir,
        email === undefined ? undefined : { email, dnsHook },
      ),
      mode: 0o644,
    });
  }
  actions.push({ kind: "mkdir", path: dataDir, mode: 0o700 });
  actions.push({
    kind: "write",
    path: INSTALL_PATHS.unit,
    text: renderUnit({
      bin,
      config: config.path,
      dataDir,
      domain,
      port,
      bind: options.bind,
      maxGraceMs,
      // A starter config carries TLS itself; an existing one without it gets the flags.
      tlsEmail: email !== undefined && !config.isStarter && !tlsFromConfig ? email : undefined,
    }),
    mode: 0o644,
  });
  actions.push({ kind: "run", argv: ["systemctl", "daemon-reload"] });
  actions.push({ kind: "run", argv: ["systemctl", "enable", "tenement"] });
  actions.push({ kind: "run", argv: ["systemctl", "restart", "tenement"] });
  if (isDryRun) {
    printPlan(actions);
    return 0;
  }
  await requireRootAndSystemd("install");
  await carryOut(actions);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const active = await runCommand(["systemctl", "is-active", "--quiet", "tenement"]);
  if (active.code !== 0) {
    err.line("[WARN] tenement.service is not running; see: journalctl -u tenement -n 50");
    return 1;
  }
  const isTls = email !== undefined || tlsFromConfig;
  out.line(
    isTls
      ? `[OK] tenement is running: https://{id}.{service}.${domain}/ (certificates: ten certs)`
      : `[OK] tenement is running: http://{id}.{service}.${domain}${
        port === 80 ? "" : `:${port}`
      }/`,
  );
  out.line(`Config: ${config.path} (apply changes with: ten reload)`);
  out.line(`Data: ${dataDir}`);
  out.line(
    "On this server, ten commands use the service's config and data dir when no tenement.toml is nearby: try ten ps, ten certs, ten token-gen",
  );
  return 0;
}

/** The data dir the installed unit names, or the default when there is no readable unit. */
async function installedDataDir(): Promise<string> {
  return (await readInstalledService())?.dataDir ?? INSTALL_PATHS.dataDir;
}

/**
 * Why `dir` must not be deleted as tenement's data dir, or undefined when it may: it must be an
 * absolute path at least two levels deep, and be the default or hold tenement's state file, so a
 * unit edited by hand (or `--data-dir /`) never turns `--purge` into deleting something else.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(purgeProblem("/var/lib/tenement", false), undefined);
 * equal(purgeProblem("/srv/tenants", true), undefined);
 * equal(purgeProblem("/", true), "it is not a directory two levels below /");
 * equal(purgeProblem("/srv/tenants", false), "it holds no tenement.kv");
 * ```
 */
export function purgeProblem(dir: string, hasStateFile: boolean): string | undefined {
  const parts = dir.split("/").filter((part) => part !== "" && part !== ".");
  if (!dir.startsWith("/") || parts.length < 2 || parts.includes("..")) {
    return "it is not a directory two levels below /";
  }
  if (dir !== INSTALL_PATHS.dataDir && !hasStateFile) return "it holds no tenement.kv";
  return undefined;
}

/** `ten uninstall [--purge] [--dry-run]`. */
export async function uninstallVerb(options: UninstallOptions): Promise<number> {
  const dataDir = await installedDataDir();
  const actions: Action[] = [
    { kind: "run", argv: ["systemctl", "disable", "--now", "tenement"], mayFail: true },
    { kind: "remove", path: INSTALL_PATHS.unit },
    { kind: "run", argv: ["systemctl", "daemon-reload"] },
  ];
  if (options.purge) {
    const problem = purgeProblem(dataDir, await holdsStateFile(dataDir));
    if (problem !== undefined) {
      throw new TenementError(`Refusing to purge ${dataDir}: ${problem}; remove it by hand`);
    }
    actions.push({ kind: "remove", path: INSTALL_PATHS.configDir });
    actions.push({ kind: "remove", path: dataDir });
  }
  if (options.dryRun) {
    printPlan(actions);
    return 0;
  }
  await requireRootAndSystemd("uninstall");
  try {
    await carryOut(actions);
  } catch (e: unknown) {
    throw new TenementError(`Uninstall stopped: ${messageOf(e)}`, { cause: e });
  }
  out.line("tenement.service is removed.");
  if (!options.purge) {
    out.line(
      `Kept ${INSTALL_PATHS.configDir} and ${dataDir} (tenants' data); ten uninstall --purge removes them.`,
    );
  }
  return 0;
}
