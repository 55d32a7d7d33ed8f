/**
 * The `ten` command line: global options, one verb per file, and the one place that turns errors
 * into `Error: …` on stderr and exit codes (1 for failures, 2 for usage errors).
 * @module
 */
import {
  Argument,
  Command,
  CommanderError,
  InvalidArgumentError,
  Option,
} from "@commander-js/extra-typings";
import { parseLogTime } from "./log_time.ts";
import { ConfigErrors, InvalidInputError, messageOf } from "../core/errors.ts";
import { formatInstanceKey } from "../core/instance_key.ts";
import { setupLogging } from "../logging.ts";
import {
  healthVerb,
  restartVerb,
  spawnVerb,
  stopVerb,
  weightVerb,
} from "./commands/client_verbs.ts";
import { caddyVerb } from "./commands/caddy.ts";
import { certsVerb } from "./commands/certs.ts";
import { COMPLETIONS_HELP, completionsVerb } from "./commands/completions.ts";
import { configVerb } from "./commands/config.ts";
import { disableVerb, enableVerb } from "./commands/disable.ts";
import { deployVerb, historyVerb, rollbackVerb, routeVerb } from "./commands/deploy.ts";
import { initVerb } from "./commands/init.ts";
import { installVerb, uninstallVerb } from "./commands/install.ts";
import { logsVerb } from "./commands/logs.ts";
import { psVerb } from "./commands/ps.ts";
import { reloadVerb } from "./commands/reload.ts";
import {
  parseSinceOption,
  parseWebhookOption,
  REPORT_HELP,
  reportVerb,
} from "./commands/report.ts";
import { FAIL_ON_VALUES } from "./report/report_model.ts";
import { REPORT_FORMATS } from "./report/report_render.ts";
import { rmVerb } from "./commands/rm.ts";
import { serveVerb } from "./commands/serve.ts";
import { tokenListVerb, tokenRevokeVerb } from "./commands/token_admin.ts";
import { tokenGenVerb } from "./commands/token_gen.ts";
import { ApiError } from "./api_client.ts";
import { COMPLETION_SHELLS } from "./completion_script.ts";
import type { GlobalOptions } from "./global_options.ts";
import { err, isBrokenPipe } from "./output.ts";
import { VERSION } from "./version.ts";

/** Unix ms of a `--since`/`--until` value; a usage error (exit 2) naming the flag otherwise. */
function whenOf(text: string): number {
  const ms = parseLogTime(text, Date.now());
  if (ms === undefined) {
    throw new InvalidArgumentError(
      'expected a duration ago such as "10m", "2h" or "7d", or an ISO 8601 date',
    );
  }
  return ms;
}

/** Exit code of a usage error. */
const USAGE_EXIT = 2;

function buildProgram(setCode: (p: Promise<number>) => void): Command {
  const program = new Command("ten")
    .description("Hyperlightweight process hypervisor: one process per tenant, woken on request")
    .version(`tenement ${VERSION}`, "-V, --version")
    .option("--server <url>", "server URL for client commands (env TENEMENT_SERVER)")
    .option(
      "--token <token>",
      "API token; discouraged, as it is visible in ps: prefer env TENEMENT_TOKEN or the token " +
        "file {data_dir}/.tenement/api_token (the default)",
    )
    .option("--data-dir <path>", "override settings.data_dir (env TENEMENT_DATA_DIR)")
    .option("--config <path>", "path to tenement.toml (env TENEMENT_CONFIG)")
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => Deno.stdout.writeSync(new TextEncoder().encode(text)),
      writeErr: (text) => Deno.stderr.writeSync(new TextEncoder().encode(text)),
    });
  const globalsOf = (cmd: { optsWithGlobals(): unknown }): GlobalOptions =>
    cmd.optsWithGlobals() as GlobalOptions;

  program.command("serve").description("run the daemon: proxy, API and supervisor")
    .option("-p, --port <port>", "port to listen on", "8080")
    .option(
      "-d, --domain <domain>",
      "domain whose subdomains route to instances (default localhost; with TLS settings.tls.domain)",
    )
    .option("--bind <address>", "address to listen on", "0.0.0.0")
    .option("--tls", "serve HTTPS with ACME certificates (ports from [settings.tls])")
    .option("--email <email>", "ACME account email (else settings.tls.acme_email)")
    .option("--staging", "use Let's Encrypt's staging directory")
    .action((opts, cmd) => setCode(serveVerb(opts, globalsOf(cmd))));
  program.command("spawn").description("start an instance")
    .usage("[options] <service:id> | <service> --id <id>")
    .argument("<service:id>", "the instance, e.g. api:alice (or the service alone, with --id)")
    .option("--id <id>", "the instance id when the argument is the service alone")
    .action((target, opts, cmd) => setCode(spawnVerb(legacyKey(target, opts.id), globalsOf(cmd))));
  program.command("stop").description("stop an instance").argument("<service:id>")
    .action((target, _opts, cmd) => setCode(stopVerb(target, globalsOf(cmd))));
  program.command("restart").description("restart an instance (clears failed state)")
    .argument("<service:id>")
    .action((target, _opts, cmd) => setCode(restartVerb(target, globalsOf(cmd))));
  program.command("rm").description("forget a stopped instance (--purge: delete its data too)")
    .argument("<service:id>")
    .option("--purge", "also delete its data dir {data_dir}/{service}/{id}")
    .option("-y, --yes", "delete without asking (needed when stdin is not a terminal)")
    .action((target, opts, cmd) => setCode(rmVerb(target, opts, globalsOf(cmd))));
  program.command("disable")
    .description("stop an instance and keep requests from waking it (data kept)")
    .argument("<service:id>")
    .action((target, _opts, cmd) => setCode(disableVerb(target, globalsOf(cmd))));
  program.command("enable").description("allow a disabled instance again (it wakes on request)")
    .argument("<service:id>")
    .action((target, _opts, cmd) => setCode(enableVerb(target, globalsOf(cmd))));
  program.command("ps").alias("ls").description("list running instances")
    .option("-a, --all", "include asleep, stopped, failed and disabled instances")
    .option("--json", "print JSON")
    .action((opts, cmd) => setCode(psVerb(opts, globalsOf(cmd))));
  program.command("health").description("check an instance's health now").argument("<service:id>")
    .option("--json", "print JSON")
    .action((target, opts, cmd) => setCode(healthVerb(target, opts, globalsOf(cmd))));
  program.command("weight").description("set an instance's traffic weight (0-100)")
    .argument("<service:id>").argument("<weight>")
    .action((target, weight, _opts, cmd) => setCode(weightVerb(target, weight, globalsOf(cmd))));
  program.command("deploy").description("start a version and wait until it is healthy")
    .argument("<service:version>")
    .option(
      "-w, --weight <weight>",
      "traffic weight once healthy (0-100; default: 100 for a service's first version, " +
        "0 for a new version while another has traffic)",
    )
    .option("--timeout <secs>", "how long to wait for the health check", "30")
    .action((target, opts, cmd) => setCode(deployVerb(target, opts, globalsOf(cmd))));
  program.command("route").description("move a service's traffic from one version to another")
    .argument("<service>")
    .requiredOption("--from <version>", "instance that loses the traffic")
    .requiredOption("--to <version>", "instance that gets it (must be healthy)")
    .option("--stop-old", "stop the old instance once its requests have finished")
    .action((service, opts, cmd) => setCode(routeVerb(service, opts, globalsOf(cmd))));
  program.command("rollback").description("restore the routing before the last route change")
    .argument("<service>")
    .action((service, _opts, cmd) => setCode(rollbackVerb(service, globalsOf(cmd))));
  program.command("history").description("show spawn/stop/deploy/route/weight/rollback actions")
    .option("--limit <n>", "newest N entries", "50")
    .option("--json", "print JSON")
    .action((opts, cmd) => setCode(historyVerb(opts, globalsOf(cmd))));
  program.command("logs").description("show instance output").argument("[service:id]")
    .option("--level <level>", "stdout, stderr or event (tenement's lifecycle lines)")
    .option(
      "--search <query>",
      'full-text search: words, "phrases", prefix*, AND, OR, NOT (a NOT b), parentheses',
    )
    .option("--since <when>", "lines from then on: 10m, 2h, 7d ago, or an ISO 8601 date", whenOf)
    .option("--until <when>", "lines until then: 10m, 2h, 7d ago, or an ISO 8601 date", whenOf)
    .option("--limit <n>", "newest N lines (default 100; 10 before -f)")
    .option("-f, --follow", "show recent lines, then stream new ones")
    .option("--json", "print JSON")
    .option("--utc", "print times in UTC rather than local time")
    .action((target, opts, cmd) => setCode(logsVerb(target, opts, globalsOf(cmd))));
  program.command("report")
    .description("summarize every instance for cron or a webhook; exit 1 when something is wrong")
    .addOption(
      new Option("--since <duration>", "window for error lines: 30m, 24h, 7d")
        .argParser(parseSinceOption).default(86_400_000, "24h"),
    )
    .addOption(
      new Option("--format <format>", "output format").choices(REPORT_FORMATS).default("text"),
    )
    .option(
      "--webhook <url>",
      "POST the JSON report (with a Slack-style text) here",
      parseWebhookOption,
    )
    .addOption(
      new Option(
        "--fail-on <what>",
        "exit 1 when: unhealthy (an instance unhealthy or failed), failed (one failed), never",
      )
        .choices(FAIL_ON_VALUES).default("unhealthy"),
    )
    .addHelpText("after", REPORT_HELP)
    .action((opts, cmd) => setCode(reportVerb(opts, globalsOf(cmd))));
  program.command("reload").description("make the daemon re-read tenement.toml (as SIGHUP does)")
    .option("--json", "print JSON")
    .action((opts, cmd) => setCode(reloadVerb(opts, globalsOf(cmd))));
  program.command("config").description("validate and show tenement.toml")
    .option("--json", "print JSON")
    .action((opts, cmd) => setCode(configVerb(opts, globalsOf(cmd))));
  program.command("init").description("write a starter tenement.toml here")
    .option("--name <name>", "service name (default: directory name)")
    .option("--command <command>", "command that starts the app (default: detected)")
    .action((opts) => setCode(initVerb(opts)));
  program.command("token-gen")
    .description("create an API token (admin, --tenant, --metrics)")
    .option("--tenant <id>", "make a token limited to this instance id (or service:id)")
    .option("--services <a,b>", "with a bare --tenant id: only in these services")
    .option("--metrics", "make a read-only token for /metrics")
    .option("--add", "make an additional admin token (api_token and other tokens stay)")
    .option("--description <text>", "label shown by ten token list")
    .option("--expires <when>", "refuse it after a duration (30d, 12h) or an ISO date/time")
    .action((opts, cmd) => setCode(tokenGenVerb(opts, globalsOf(cmd))));
  const token = program.command("token").description("list and revoke API tokens (admin)");
  token.command("list").description("list tokens: id, kind, scope, label, times (no secrets)")
    .option("--json", "print JSON")
    .action((opts, cmd) => setCode(tokenListVerb(opts, globalsOf(cmd))));
  token.command("revoke").description("revoke a token; the next request with it is refused")
    .argument("<id>", "the token id from ten token list (a token's first 8 characters)")
    .option("--force", "revoke even the last admin token (locks the API until token-gen)")
    .action((id, opts, cmd) => setCode(tokenRevokeVerb(id, opts, globalsOf(cmd))));
  program.command("certs").description("list built-in TLS certificates and their renewal")
    .option("--json", "print JSON")
    .action((opts, cmd) => setCode(certsVerb(opts, globalsOf(cmd))));
  program.command("install").description("run ten serve as a systemd service (needs root)")
    .requiredOption("-d, --domain <domain>", "domain whose subdomains route to instances")
    .option("-p, --port <port>", "port to listen on (default 80; with --email 8080 on 127.0.0.1)")
    .option("--email <email>", "serve HTTPS with Let's Encrypt certificates for this account")
    .option("--dns-hook <path>", "DNS-01 hook for wildcard certificates per service (with --email)")
    .option("--bind <address>", "address to listen on (127.0.0.1 behind Caddy; default all)")
    .option("--bin <path>", "the ten executable the service runs (default: this one)")
    .option("--dry-run", "print every action and file instead of changing anything")
    .action((opts, cmd) => setCode(installVerb(opts, globalsOf(cmd))));
  program.command("caddy").description("print a Caddyfile that serves HTTPS in front of ten serve")
    .requiredOption("-d, --domain <domain>", "domain whose subdomains route to instances")
    .option("-p, --port <port>", "port ten serve listens on (127.0.0.1)", "8080")
    .option("-o, --output <path>", "write the Caddyfile here instead of printing it")
    .option("--email <email>", "ACME account email for Caddy")
    .option(
      "--dns-provider <name>",
      "wildcard certificates by DNS-01 (needs that caddy-dns module)",
    )
    .action((opts, cmd) => setCode(caddyVerb(opts, globalsOf(cmd))));
  program.command("uninstall").description("stop and remove the systemd service (keeps data)")
    .option("--purge", "also delete /etc/tenement and the data dir (tenants' data)")
    .option("--dry-run", "print every action instead of changing anything")
    .action((opts) => setCode(uninstallVerb(opts)));
  program.command("completions").description("print a shell completion script for ten")
    .addArgument(new Argument("<shell>", "bash, zsh or fish").choices(COMPLETION_SHELLS))
    .addHelpText("after", COMPLETIONS_HELP)
    .action((shell) => setCode(Promise.resolve(completionsVerb(shell, program))));
  return program;
}

/** Accepts the old docs' `SERVICE --id ID` form as `SERVICE:ID`. */
function legacyKey(target: string, id: string | undefined): string {
  return id === undefined || target.includes(":")
    ? target
    : formatInstanceKey({ service: target, id });
}

/** Runs `ten` with `args`; resolves with the exit code. */
export async function runCli(args: readonly string[]): Promise<number> {
  const verb = args.find((arg) => !arg.startsWith("-"));
  await setupLogging(verb === "serve" ? "info" : "warning", {
    TENEMENT_LOG: Deno.env.get("TENEMENT_LOG"),
    RUST_LOG: Deno.env.get("RUST_LOG"),
  });
  let result: Promise<number> = Promise.resolve(0);
  const program = buildProgram((p) => result = p);
  try {
    await program.parseAsync([...args], { from: "user" });
    return await result;
  } catch (error: unknown) {
    // The reader of stdout has gone (`ten logs | head -1`): it has all it wanted, so this is
    // success, like ripgrep and unlike a SIGPIPE'd tool's 141, which `set -o pipefail` fails on.
    if (isBrokenPipe(error)) return 0;
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return 0;
      if (error.code === "commander.help") return 0;
      return USAGE_EXIT;
    }
    printError(error);
    return 1;
  }
}

function printError(error: unknown): void {
  if (error instanceof ConfigErrors) {
    err.line(`Error: ${error.message}`);
    return;
  }
  err.line(`Error: ${messageOf(error)}`);
  if (error instanceof ApiError) { for (const line of error.details) err.line(`  ${line}`); }
  const causes: string[] = [];
  let cause = error instanceof Error ? error.cause : undefined;
  while (cause !== undefined && causes.length < 5) {
    causes.push(messageOf(cause));
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  if (causes.length > 0 && !(error instanceof InvalidInputError)) {
    err.line("");
    err.line("Caused by:");
    causes.forEach((message, index) => err.line(`    ${index}: ${message}`));
  }
}
