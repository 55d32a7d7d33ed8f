import { deepEqual, equal } from "node:assert/strict";
import {
  findKeyPosition,
  formatKeyPath,
  indexKeyPositions,
  type KeyPosition,
} from "./key_positions.ts";

function at(line: number, column: number): KeyPosition {
  return { line, column };
}

const SAMPLE = `# tenement config
[settings]
data_dir = "./data"   # comment
health_check_interval = 5

[service.notes]
command = "python3 app.py"
  health = "/health"
env = { DATA_DIR = "{data_dir}/{name}/{id}", "X.Y" = "1" }
args = [
  "a", # first
  'b',
  ["nested", "x"],
]
notes = """
fake = 1
[not.a.table]
"""
lit = '''
also = "fake"'''

[service.notes.env]
LOG = "info"

[[service.notes.mounts]]
source = "./a"
destination = "/a"

[[service.notes.mounts]]
source = "./b"
[service.notes.mounts.options]
mode = "ro"

[instances]
notes = ["alice", "bob"]
"quoted key" = 1
a.b . c = 2
'lit.key' = 3
`;

Deno.test("indexKeyPositions() finds headers, keys, inline keys and array elements", async (t) => {
  const index = indexKeyPositions(SAMPLE);
  const cases: [string, KeyPosition][] = [
    ["settings", at(2, 1)],
    ["settings.data_dir", at(3, 1)],
    ["settings.health_check_interval", at(4, 1)],
    ["service", at(6, 1)],
    ["service.notes", at(6, 1)],
    ["service.notes.command", at(7, 1)],
    ["service.notes.health", at(8, 3)],
    ["service.notes.env", at(9, 1)],
    ["service.notes.env.DATA_DIR", at(9, 9)],
    ['service.notes.env."X.Y"', at(9, 46)],
    ["service.notes.args", at(10, 1)],
    ["service.notes.args[0]", at(11, 3)],
    ["service.notes.args[1]", at(12, 3)],
    ["service.notes.args[2]", at(13, 3)],
    ["service.notes.args[2][1]", at(13, 14)],
    ["service.notes.notes", at(15, 1)],
    ["service.notes.lit", at(19, 1)],
    ["service.notes.env.LOG", at(23, 1)],
    ["service.notes.mounts", at(25, 1)],
    ["service.notes.mounts[0]", at(25, 1)],
    ["service.notes.mounts[0].source", at(26, 1)],
    ["service.notes.mounts[0].destination", at(27, 1)],
    ["service.notes.mounts[1]", at(29, 1)],
    ["service.notes.mounts[1].source", at(30, 1)],
    ["service.notes.mounts[1].options", at(31, 1)],
    ["service.notes.mounts[1].options.mode", at(32, 1)],
    ["instances", at(34, 1)],
    ["instances.notes", at(35, 1)],
    ["instances.notes[0]", at(35, 10)],
    ["instances.notes[1]", at(35, 19)],
    ['instances."quoted key"', at(36, 1)],
    ["instances.a", at(37, 1)],
    ["instances.a.b", at(37, 1)],
    ["instances.a.b.c", at(37, 1)],
    ['instances."lit.key"', at(38, 1)],
  ];
  for (const [path, expected] of cases) {
    await t.step(path, () => deepEqual(index.get(path), expected));
  }
});

Deno.test("indexKeyPositions() ignores key-like lines inside multi-line strings", () => {
  const index = indexKeyPositions(SAMPLE);
  equal(index.get("service.notes.fake"), undefined);
  equal(index.get("not"), undefined);
  equal(index.get("service.notes.also"), undefined);
});

Deno.test("indexKeyPositions() prefers an explicit table header over an implied one", () => {
  const index = indexKeyPositions("[service.a.env]\nX = '1'\n\n[service.a]\ncommand = 'x'\n");
  deepEqual(index.get("service.a"), at(4, 1));
  deepEqual(index.get("service.a.env"), at(1, 1));
  deepEqual(index.get("service"), at(1, 1));
});

Deno.test("indexKeyPositions() handles CRLF, multi-line inline tables and inline arrays of tables", () => {
  const text = '[service.x]\r\nmounts = [{ source = "a" }, { source = "b", readonly = true }]\r\n' +
    "env = {\r\n  A = '1',\r\n  B = '2'\r\n}\r\n";
  const index = indexKeyPositions(text);
  deepEqual(index.get("service.x.mounts[0].source"), at(2, 13));
  deepEqual(index.get("service.x.mounts[1].readonly"), at(2, 45));
  deepEqual(index.get("service.x.env.A"), at(4, 3));
  deepEqual(index.get("service.x.env.B"), at(5, 3));
});

Deno.test("indexKeyPositions() never throws on malformed text", () => {
  for (
    const text of ["[", "[[a", "a = [1, 2", "a = {b = ", 'a = "x', "= 1", "]]]", "\\", "a = '''x"]
  ) {
    indexKeyPositions(text);
  }
});

Deno.test("findKeyPosition() falls back to the enclosing table, then to line 1", () => {
  const index = indexKeyPositions("x = 1\n[service.notes]\ncommand = 'x'\n");
  deepEqual(findKeyPosition(index, ["service", "notes", "command"]), at(3, 1));
  deepEqual(findKeyPosition(index, ["service", "notes", "missing"]), at(2, 1));
  deepEqual(findKeyPosition(index, ["service", "notes", "mounts", 0, "source"]), at(2, 1));
  deepEqual(findKeyPosition(index, ["routing", "default"]), at(1, 1));
  deepEqual(findKeyPosition(index, []), at(1, 1));
});

Deno.test("formatKeyPath() quotes keys that are not bare and brackets indexes", () => {
  equal(formatKeyPath([]), "");
  equal(formatKeyPath(["settings", "data_dir"]), "settings.data_dir");
  equal(formatKeyPath(["instances", "notes", 1]), "instances.notes[1]");
  equal(formatKeyPath(["env", "with space"]), 'env."with space"');
  equal(formatKeyPath(["env", ""]), 'env.""');
});
