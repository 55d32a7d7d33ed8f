import { deepEqual, equal, throws } from "node:assert/strict";
import { planTls } from "./tls_plan.ts";
import type { TlsSettings } from "./schema.ts";
import { LETS_ENCRYPT_STAGING } from "./tls_values.ts";

const OFF: TlsSettings = {
  enabled: false,
  acmeEmail: undefined,
  domain: undefined,
  cacheDir: "/data/acme",
  staging: false,
  httpsPort: 443,
  httpPort: 80,
  dnsProvider: undefined,
  acmeDirectory: undefined,
  acmeCaCert: undefined,
  dnsHook: undefined,
  dnsPropagationCheck: true,
};

Deno.test("planTls: off unless --tls or enabled; TLS-only flags alone are an error", () => {
  equal(planTls(OFF, {}), undefined);
  equal(planTls(OFF, { domain: "example.com" }), undefined);
  throws(() => planTls(OFF, { email: "ops@example.com" }), /--email only apply with TLS/);
  throws(() => planTls(OFF, { staging: true }), /--staging only apply with TLS/);
});

Deno.test("planTls: --tls needs an email and a public domain; flags win over the config's keys", () => {
  throws(() => planTls(OFF, { tls: true, domain: "example.com" }), /Use --email/);
  throws(() => planTls(OFF, { tls: true, email: "ops@example.com" }), /localhost/);
  throws(
    () => planTls(OFF, { tls: true, email: "nobody", domain: "example.com" }),
    /exactly one @/,
  );
  const config = { ...OFF, enabled: true, acmeEmail: "a@example.com", domain: "conf.example.com" };
  const plan = planTls(config, { tls: true, email: "b@example.com", domain: "Flag.Example.com." });
  equal(plan?.email, "b@example.com");
  equal(plan?.domain, "flag.example.com");
  // TLS turned on by the config: its domain wins over --domain, which fills in when it has none.
  equal(planTls(config, { domain: "flag.example.com" })?.domain, "conf.example.com");
  equal(
    planTls({ ...config, domain: undefined }, { domain: "flag.example.com" })?.domain,
    "flag.example.com",
  );
});

Deno.test("planTls: config mode names acme_email; staging and a directory pick the server", () => {
  throws(
    () => planTls({ ...OFF, enabled: true, domain: "example.com" }, {}),
    /acme_email not set/,
  );
  const base = { ...OFF, enabled: true, acmeEmail: "a@example.com", domain: "example.com" };
  equal(planTls(base, { staging: true })?.directoryUrl, LETS_ENCRYPT_STAGING);
  const custom = { ...base, acmeDirectory: "https://127.0.0.1:14000/dir", dnsHook: "/h" };
  deepEqual(
    [planTls(custom, {})?.directoryUrl, planTls(custom, {})?.dnsHook],
    ["https://127.0.0.1:14000/dir", "/h"],
  );
  throws(() => planTls(custom, { staging: true }), /both pick the ACME server/);
});
