import { deepEqual } from "node:assert/strict";
import { parseConfig } from "./parse_config.ts";

const warningsOf = (text: string): string[] =>
  (parseConfig(text, { path: "tenement.toml", cwd: "/srv" }).warnings ?? []).map((w) => w.message);

Deno.test("env paths under {data_dir} outside the instance's own directory are warned about, with the fix", () => {
  const text = `[service.notes]
command = "python3 app.py"
auto_create = false
env = { DATABASE_PATH = "{data_dir}/{id}/app.db" }

[service.api]
command = "./api"
[service.api.env]
OWN = "{data_dir}/{name}/{id}/api.db"
OWN_BY_NAME = "{data_dir}/api/{id}"
ROOT = "{data_dir}"
ELSEWHERE = "/var/cache/api"
SHARED = "{data_dir}/shared"
`;
  deepEqual(warningsOf(text), [
    'tenement.toml:4:9: "service.notes.env.DATABASE_PATH" = "{data_dir}/{id}/app.db" points under {data_dir} outside the instance\'s own directory: tenement creates only {data_dir}/{name}/{id} for each instance, so this path is missing or shared by every instance (did you mean "{data_dir}/{name}/{id}/app.db"?)',
    'tenement.toml:13:1: "service.api.env.SHARED" = "{data_dir}/shared" points under {data_dir} outside the instance\'s own directory: tenement creates only {data_dir}/{name}/{id} for each instance, so this path is missing or shared by every instance (did you mean "{data_dir}/{name}/{id}/shared"?)',
  ]);
});

Deno.test("a path of another service's instances is outside this instance's directory", () => {
  deepEqual(
    warningsOf(
      '[service.a]\ncommand = "x"\nauto_create = false\n[service.a.env]\nDB = "{data_dir}/b/{id}/x.db"\n',
    )
      .length,
    1,
  );
});
