import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { ConfigErrors } from "../core/errors.ts";
import { parseConfig } from "./parse_config.ts";
import { parseUidRange, parseUserSetting } from "./user_values.ts";

Deno.test("parseUidRange() accepts A-B with A < B within 1000..4294967294 only", () => {
  const cases: [string, { start: number; end: number } | undefined][] = [
    ["61184-65519", { start: 61184, end: 65519 }],
    [" 1000 - 1001 ", { start: 1000, end: 1001 }],
    ["100000-4294967294", { start: 100000, end: 4294967294 }],
    ["65519-61184", undefined],
    ["2000-2000", undefined],
    ["999-2000", undefined],
    ["2000-4294967295", undefined],
    ["2000", undefined],
    ["a-b", undefined],
    ["-5-10", undefined],
  ];
  for (const [text, expected] of cases) deepEqual(parseUidRange(text), expected, text);
  equal(parseUidRange(61184), undefined);
});

Deno.test("parseUserSetting() accepts inherit, auto and user names", () => {
  for (const ok of ["inherit", "auto", "www-data", "_svc", "deploy.1", "machine$"]) {
    equal(parseUserSetting(ok), ok);
  }
  for (const bad of ["", "no body", "1abc", "a:b", "x".repeat(40), 5]) {
    equal(parseUserSetting(bad), undefined, String(bad));
  }
});

Deno.test("parseConfig() takes user from default_user, and reports bad values at file:line", () => {
  const config = parseConfig(
    '[settings]\ndefault_user = "auto"\nauto_user_range = "70000-70100"\n[service.a]\ncommand = "x"\n[service.b]\ncommand = "x"\nuser = "www-data"\n',
    { path: "tenement.toml" },
  );
  equal(config.services.get("a")?.user, "auto");
  equal(config.services.get("b")?.user, "www-data");
  deepEqual(config.settings.autoUserRange, { start: 70000, end: 70100 });
  equal(
    parseConfig('[service.a]\ncommand = "x"\n', { path: "t.toml" }).services.get("a")?.user,
    "inherit",
  );
  const bad = '[settings]\nauto_user_range = "9-5"\n[service.a]\ncommand = "x"\nuser = "no body"\n';
  throws(() => parseConfig(bad, { path: "tenement.toml" }), (e: unknown) => {
    ok(e instanceof ConfigErrors);
    const text = e.message;
    ok(text.includes("tenement.toml:2:1") && text.includes("auto_user_range"), text);
    ok(text.includes("tenement.toml:5:1") && text.includes('"inherit", "auto" or the name'), text);
    return true;
  });
});
