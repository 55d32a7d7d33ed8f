/**
 * `ten caddy`: prints (or writes) a Caddyfile that puts Caddy in front of `ten serve` for HTTPS,
 * with a block per service of the config.
 * @module
 */
import { InvalidInputError } from "../../core/errors.ts";
import { renderCaddyfile } from "../caddyfile.ts";
import { type GlobalOptions, loadConfigFor } from "../global_options.ts";
import { out } from "../output.ts";
import { writeFileAtomic } from "../write_file_atomic.ts";
import { parseDomain, parsePort } from "./install.ts";

/** `ten caddy` flags. */
export interface CaddyOptions {
  readonly domain: string;
  readonly port: string;
  readonly output?: string | undefined;
  readonly email?: string | undefined;
  readonly dnsProvider?: string | undefined;
}

const PROVIDER = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const EMAIL = /^[^\s@{}]+@[^\s@{}]+$/;

/** `ten caddy --domain D [--port P] [--output FILE] [--email E] [--dns-provider NAME]`. */
export async function caddyVerb(options: CaddyOptions, globals: GlobalOptions): Promise<number> {
  const domain = parseDomain(options.domain);
  const port = parsePort(options.port);
  if (options.dnsProvider !== undefined && !PROVIDER.test(options.dnsProvider)) {
    throw new InvalidInputError(
      `Invalid --dns-provider '${options.dnsProvider}': expected a caddy-dns module name such as cloudflare`,
    );
  }
  if (options.email !== undefined && !EMAIL.test(options.email)) {
    throw new InvalidInputError(`Invalid --email '${options.email}'`);
  }
  const config = await loadConfigFor(globals);
  const text = renderCaddyfile({
    domain,
    port,
    services: [...config.services.keys()],
    email: options.email,
    dnsProvider: options.dnsProvider,
  });
  if (options.output === undefined) {
    for (const line of text.replace(/\n$/, "").split("\n")) out.line(line);
    return 0;
  }
  await writeFileAtomic(options.output, text);
  out.line(`Caddyfile written to ${options.output}`);
  out.line(
    `Run tenement on 127.0.0.1: ten serve --port ${port} --bind 127.0.0.1 --domain ${domain}`,
  );
  out.line(`Check it with: caddy validate --adapter caddyfile --config ${options.output}`);
  return 0;
}
