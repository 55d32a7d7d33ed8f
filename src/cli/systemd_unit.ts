/**
 * The files `ten install` writes, as text: the systemd unit that runs `ten serve`, and the starter
 * config for a server that has none. Pure: paths and options come in, text goes out.
 * @module
 */

/** Where `ten install` puts things. */
export const INSTALL_PATHS = {
  unit: "/etc/systemd/system/tenement.service",
  configDir: "/etc/tenement",
  config: "/etc/tenement/tenement.toml",
  dataDir: "/var/lib/tenement",
  bin: "/usr/local/bin/ten",
} as const;

/** What the unit runs. */
export interface UnitOptions {
  /** Absolute path of the `ten` executable. */
  readonly bin: string;
  /** Absolute path of the config the daemon reads. */
  readonly config: string;
  readonly dataDir: string;
  readonly domain: string;
  readonly port: number;
  /** Address `ten serve` binds (`--bind`); all addresses when undefined. */
  readonly bind?: string | undefined;
  /** Longest `stop_grace_period` of the config's services, in ms. */
  readonly maxGraceMs: number;
  /**
   * ACME email passed as `--tls --email E`, for a config without `[settings.tls]`; a starter
   * config carries TLS in its own `[settings.tls]` instead.
   */
  readonly tlsEmail?: string | undefined;
}

/** Characters a unit's ExecStart word and Environment value may hold without quoting. */
const PLAIN = /^[A-Za-z0-9_./:@%+=,-]+$/;

/**
 * Quotes one ExecStart word the way systemd reads it (double quotes, backslash escapes) when it
 * holds anything beyond plain path characters; `%` is doubled since systemd expands specifiers.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(unitWord("/usr/local/bin/ten"), "/usr/local/bin/ten");
 * equal(unitWord("/opt/my apps/ten"), '"/opt/my apps/ten"');
 * ```
 */
export function unitWord(word: string): string {
  const escaped = word.replaceAll("%", "%%");
  if (PLAIN.test(word)) return escaped;
  return `"${escaped.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/**
 * The systemd unit. `ten serve` stops its instances itself on SIGTERM (SIGTERM to each process
 * group, its grace period, SIGKILL), so `KillMode=mixed` signals the daemon alone first and
 * systemd only kills what is left after `TimeoutStopSec`, which covers the longest grace period.
 * The hardening keeps the system read-only except the data dir, and leaves namespaces, bwrap and
 * cgroups (Delegate=yes) usable for isolation.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * const unit = renderUnit({ bin: "/usr/local/bin/ten", config: "/etc/tenement/tenement.toml",
 *   dataDir: "/var/lib/tenement", domain: "example.com", port: 80, maxGraceMs: 10_000 });
 * ok(unit.includes("ExecStart=/usr/local/bin/ten serve --port 80 --domain example.com\n"));
 * ok(unit.includes("Environment=TENEMENT_CONFIG=/etc/tenement/tenement.toml\n"));
 * ```
 */
export function renderUnit(options: UnitOptions): string {
  for (const [name, value] of Object.entries(options)) {
    if (typeof value === "string" && [...value].some((c) => c < " " || c === "\x7f")) {
      throw new RangeError(`${name} holds a control character, which a unit file cannot carry`);
    }
  }
  const bind = options.bind === undefined ? [] : ["--bind", options.bind];
  const tls = options.tlsEmail === undefined ? [] : ["--tls", "--email", options.tlsEmail];
  const exec = [options.bin, "serve", "--port", String(options.port), ...bind]
    .concat(["--domain", options.domain], tls).map(unitWord).join(" ");
  const stopSeconds = Math.ceil(options.maxGraceMs / 1000) + 15;
  return `# Written by ten install; ten uninstall removes it.
[Unit]
Description=tenement process hypervisor (ten serve)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=${exec}
Environment=${unitWord(`TENEMENT_CONFIG=${options.config}`)}
Environment=${unitWord(`TENEMENT_DATA_DIR=${options.dataDir}`)}
Environment=TENEMENT_LOG=info
WorkingDirectory=${options.dataDir.replaceAll("%", "%%")}
Restart=on-failure
RestartSec=5
# ten serve stops every instance within its grace period on SIGTERM; systemd kills leftovers after.
KillMode=mixed
KillSignal=SIGTERM
TimeoutStopSec=${stopSeconds}
LimitNOFILE=65536
# Hardening that keeps namespaces, bwrap and cgroups available to instances.
Delegate=yes
NoNewPrivileges=yes
PrivateTmp=yes
ProtectSystem=strict
ProtectHome=read-only
ReadWritePaths=${unitWord(options.dataDir)}

[Install]
WantedBy=multi-user.target
`;
}

/** Built-in TLS settings of a starter config. */
export interface StarterTls {
  readonly email: string;
  /** DNS-01 hook: wildcard certificates per service; without it, HTTP-01 per name on demand. */
  readonly dnsHook?: string | undefined;
}

function starterTls(domain: string, tls: StarterTls): string {
  const hook = tls.dnsHook === undefined
    ? `# Certificates per name, obtained by HTTP-01 on the first HTTPS request for it. For one
# wildcard certificate per service instead, set a DNS-01 hook (called as HOOK set|unset FQDN VALUE):
# dns_hook = "/etc/tenement/dns-hook"
`
    : `# Wildcard certificates per service by DNS-01, through this hook (HOOK set|unset FQDN VALUE).
dns_hook = ${JSON.stringify(tls.dnsHook)}
`;
  return `
# HTTPS on 443 with Let's Encrypt certificates (renewed automatically; ten certs lists them);
# port 80 answers ACME challenges and redirects to HTTPS.
[settings.tls]
enabled = true
acme_email = ${JSON.stringify(tls.email)}
domain = ${JSON.stringify(domain)}
${hook}`;
}

/**
 * A starter config for a server without one. Services are added to it; the daemon reads it on
 * every start.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * ok(starterConfig("example.com", "/var/lib/tenement").includes("alice.notes.example.com"));
 * ok(starterConfig("example.com", "/var/lib/tenement").includes('\ndefault_user = "auto"\n'));
 * ```
 */
export function starterConfig(domain: string, dataDir: string, tls?: StarterTls): string {
  const scheme = tls === undefined ? "http" : "https";
  return `# tenement config of this server, written by ten install. Add one [service.NAME] per app,
# check it with \`ten config\`, and apply it with \`systemctl restart tenement\`.
# ${scheme}://alice.notes.${domain} then routes to the instance notes:alice.

[settings]
# The unit sets the data dir (TENEMENT_DATA_DIR=${dataDir}).
health_check_interval = 10
# Each instance runs as a user of its own (a uid from auto_user_range), owns its data dir
# (mode 0700) and cannot read the others' or tenement's files. Its program and workdir must be
# reachable by that user: keep apps under /srv or /opt and toolchains system-wide (/usr/bin),
# not under /root. A service can set user = "inherit" (run as root) or a user name instead.
default_user = "auto"
${tls === undefined ? "" : starterTls(domain, tls)}
# [service.notes]
# command = "/usr/bin/python3 app.py"
# workdir = "/srv/notes"
# health = "/health"
# idle_timeout = 300
# env = { DATA_DIR = "{data_dir}/{name}/{id}" }

# [instances]
# notes = ["alice", "bob"]
`;
}
