/**
 * `ten caddy`: the Caddyfile passes `caddy validate`, and a real Caddy running it in front of a real
 * `ten serve` serves tenants over HTTPS, with certificates on demand only for names tenement
 * routes. Offline, Caddy's own local CA (`local_certs`) stands in for Let's Encrypt; the rest of
 * the file is used as `ten caddy` wrote it. Skipped where Caddy is not installed (`make setup`
 * installs it).
 * @module
 */
import { equal, match, ok } from "node:assert/strict";
import {
  freePort,
  okService,
  runTen,
  settingsBlock,
  startDaemon,
  startGroup,
  tempDir,
  waitFor,
} from "../testkit/mod.ts";

const dec = new TextDecoder();

async function hasCaddy(): Promise<boolean> {
  const found = await new Deno.Command("sh", { args: ["-c", "command -v caddy"] }).output();
  return found.code === 0;
}

async function run(argv: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  const result = await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: result.code, out: dec.decode(result.stdout), err: dec.decode(result.stderr) };
}

/** `curl` of an HTTPS name on 127.0.0.1:`port`, trusting only `caCert`. */
function curlHttps(
  name: string,
  port: number,
  path: string,
  caCert: string,
): Promise<{ code: number; out: string; err: string }> {
  return run([
    "curl",
    "-sS",
    "--max-time",
    "20",
    "--resolve",
    `${name}:${port}:127.0.0.1`,
    "--cacert",
    caCert,
    "-w",
    "\n%{http_code}",
    `https://${name}:${port}${path}`,
  ]);
}

Deno.test("ten caddy: a block per service, the ask gate, and a file caddy validate accepts", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(
    `${tmp.path}/tenement.toml`,
    settingsBlock() + okService("notes") + okService("api"),
  );
  const printed = await runTen(
    ["caddy", "--domain", "Example.TEST", "--email", "ops@example.test"],
    {
      cwd: tmp.path,
    },
  );
  equal(printed.code, 0, printed.stderr);
  const text = printed.stdout;
  match(text, /^\t\task http:\/\/127\.0\.0\.1:8080\/api\/tls\/ask$/m);
  match(text, /^\temail ops@example\.test$/m);
  match(text, /^notes\.example\.test, \*\.notes\.example\.test \{$/m);
  match(text, /^api\.example\.test, \*\.api\.example\.test \{$/m);
  match(text, /^example\.test \{\n\t@ask path \/api\/tls\/ask\n\trespond @ask 404\n/m);

  const dns = await runTen([
    "caddy",
    "-d",
    "example.test",
    "--dns-provider",
    "cloudflare",
    "-p",
    "9000",
  ], {
    cwd: tmp.path,
  });
  equal(dns.code, 0, dns.stderr);
  match(dns.stdout, /^\t\tdns cloudflare \{env\.DNS_API_TOKEN\}$/m);
  ok(!dns.stdout.includes("on_demand"), "wildcards by DNS-01 need no on-demand certificates");
  match(dns.stdout, /reverse_proxy 127\.0\.0\.1:9000/);

  const written = await runTen(["caddy", "-d", "example.test", "-o", `${tmp.path}/Caddyfile`], {
    cwd: tmp.path,
  });
  equal(written.code, 0, written.stderr);
  match(written.stdout, /^Caddyfile written to /);
  if (await hasCaddy()) {
    const validate = await run([
      "caddy",
      "validate",
      "--adapter",
      "caddyfile",
      "--config",
      `${tmp.path}/Caddyfile`,
    ]);
    equal(validate.code, 0, validate.err);
  }

  const bad = await runTen(["caddy", "-d", "example.test", "--dns-provider", "cloud flare"], {
    cwd: tmp.path,
  });
  equal(bad.code, 1);
  match(bad.stderr, /Invalid --dns-provider 'cloud flare'/);
});

Deno.test({
  name: "ten caddy: Caddy in front serves tenants over HTTPS, certificates only for routed names",
  ignore: !await hasCaddy(),
  fn: async () => {
    await using tmp = await tempDir();
    await using ten = await startDaemon({
      dir: tmp.path,
      config: settingsBlock() + okService("notes", { auto_create_allow: ["alice", "bob"] }),
    });
    const made = await runTen(
      ["caddy", "--domain", "localhost", "--port", String(ten.port), "--config", ten.configPath],
    );
    equal(made.code, 0, made.stderr);
    const httpPort = freePort();
    const httpsPort = freePort();
    // Offline: Caddy's local CA instead of an ACME server, and ports a test may use.
    const caddyfile = made.stdout.replace(
      "{\n",
      `{\n\tlocal_certs\n\tskip_install_trust\n\tadmin off\n\thttp_port ${httpPort}\n\thttps_port ${httpsPort}\n\tstorage file_system ${tmp.path}/caddy\n`,
    );
    await Deno.writeTextFile(`${tmp.path}/Caddyfile`, caddyfile);
    await using caddy = startGroup(
      ["caddy", "run", "--adapter", "caddyfile", "--config", `${tmp.path}/Caddyfile`],
      { env: { HOME: tmp.path, XDG_DATA_HOME: tmp.path, XDG_CONFIG_HOME: tmp.path } },
    );
    const rootCert = `${tmp.path}/caddy/pki/authorities/local/root.crt`;
    await waitFor(
      async () => await Deno.stat(rootCert).then(() => true, () => false),
      { timeoutMs: 15_000, what: "Caddy's local CA" },
    );

    // A tenant that may exist: Caddy asks tenement, gets a certificate, proxies; tenement wakes it.
    const alice = await waitFor(async () => {
      const res = await curlHttps("alice.notes.localhost", httpsPort, "/who", rootCert);
      return res.code === 0 && res.out.endsWith("\n200") ? res : undefined;
    }, { timeoutMs: 30_000, what: "https://alice.notes.localhost through Caddy" });
    const body = JSON.parse(alice.out.slice(0, alice.out.lastIndexOf("\n"))) as {
      path: string;
      data_dir: string;
    };
    equal(body.path, "/who");
    ok(body.data_dir.endsWith("/notes/alice"), body.data_dir);

    // A name tenement would not route: no certificate, so the handshake fails and nothing starts.
    const mallory = await curlHttps("mallory.notes.localhost", httpsPort, "/", rootCert);
    ok(mallory.code !== 0, `mallory got through: ${mallory.out}`);
    equal(await ten.instance("notes:mallory"), undefined);

    // The ask endpoint is not reachable from outside through Caddy.
    const ask = await curlHttps(
      "localhost",
      httpsPort,
      "/api/tls/ask?domain=alice.notes.localhost",
      rootCert,
    );
    ok(ask.out.endsWith("\n404"), ask.out + ask.err);
    equal(caddy.hasExited(), false);
  },
});
