import { deepEqual } from "node:assert/strict";
import { parseConfig } from "./parse_config.ts";

const TOML = `[settings]
data_dir = "data"

[settings.tls]
enabled = false
acme_email = "ops@example.com"
dns_provider = "cloudflare"

[service.app]
command = "./app"
memory_limit_mb = 256
cpu_shares = 512
storage_quota_mb = 100
storage_persist = true

[service.box]
command = "./box"
isolation = "litebox"
image = "alpine"

[routing]
default = "app"
`;

Deno.test("parseConfig warns about every accepted key that does nothing yet, with its position", () => {
  const config = parseConfig(TOML, { path: "tenement.toml", cwd: "/srv" });
  deepEqual(config.warnings?.map((w) => [w.at.key, w.at.line, w.at.column]), [
    ["settings.tls.dns_provider", 7, 1],
    ["service.app.storage_quota_mb", 13, 1],
    ["service.box.isolation", 18, 1],
    ["service.box.image", 19, 1],
    ["routing.default", 22, 1],
  ]);
  deepEqual(
    config.warnings?.[1]?.message,
    'tenement.toml:13:1: "service.app.storage_quota_mb" is set but not enforced yet: the quota is only reported (storage_quota_bytes in the API), nothing warns or stops at it',
  );
  // The keys still load, so files written for the original keep working.
  deepEqual(config.services.get("app")?.memoryLimitMb, 256);
});

Deno.test("parseConfig has no warnings for a config that sets only working keys", () => {
  const config = parseConfig('[service.app]\ncommand = "./app"\nidle_timeout = 60\n', {
    path: "tenement.toml",
  });
  deepEqual(config.warnings, []);
});

Deno.test("parseConfig accepts namespace and sandbox without warnings, and warns about mounts outside a sandbox", () => {
  const config = parseConfig(
    `[service.ns]
command = "./app"
isolation = "namespace"

[service.box]
command = "./app"
isolation = "sandbox"
network = "none"
[[service.box.mounts]]
source = "/srv/shared"
destination = "/shared"

[service.plain]
command = "./app"
[[service.plain.mounts]]
source = "/srv/shared"
destination = "/shared"
`,
    { path: "tenement.toml" },
  );
  deepEqual(config.warnings?.map((w) => w.at.key), ["service.plain.mounts"]);
  deepEqual(config.services.get("box")?.network, "none");
  deepEqual(config.services.get("ns")?.network, "host");
});
