import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { InvalidInputError } from "./errors.ts";
import { splitCommandLine } from "./command_line.ts";

Deno.test("splitCommandLine() splits like a POSIX shell", async (t) => {
  const cases: [string, string[]][] = [
    ["", []],
    ["   ", []],
    ["python3 app.py", ["python3", "app.py"]],
    ["  node\tserver.mjs \n --port 8080  ", ["node", "server.mjs", "--port", "8080"]],
    ["echo 'a b' c", ["echo", "a b", "c"]],
    [`echo "a b" c`, ["echo", "a b", "c"]],
    ["echo ''", ["echo", ""]],
    [`echo ""`, ["echo", ""]],
    [`a'b'"c"d`, ["abcd"]],
    [`echo 'it"s'`, ["echo", `it"s`]],
    [`echo "it's"`, ["echo", "it's"]],
    [`echo 'a\\b'`, ["echo", "a\\b"]],
    [`echo "a\\"b"`, ["echo", `a"b`]],
    [`echo "a\\\\b"`, ["echo", "a\\b"]],
    [`echo "a\\$b"`, ["echo", "a$b"]],
    [`echo "a\\nb"`, ["echo", "a\\nb"]],
    ["echo a\\ b", ["echo", "a b"]],
    ["echo \\'x\\'", ["echo", "'x'"]],
    ["echo a\\\nb", ["echo", "ab"]],
    [`echo "a\\\nb"`, ["echo", "ab"]],
    ["echo $HOME *.txt | wc", ["echo", "$HOME", "*.txt", "|", "wc"]],
    ["echo a # comment", ["echo", "a"]],
    ["echo a#b", ["echo", "a#b"]],
    ["echo '#x'", ["echo", "#x"]],
    ["# only\necho x", ["echo", "x"]],
    ["uv run python app.py --name={name}", ["uv", "run", "python", "app.py", "--name={name}"]],
    ["héllo wörld", ["héllo", "wörld"]],
  ];
  for (const [text, expected] of cases) {
    await t.step(JSON.stringify(text), () => deepEqual(splitCommandLine(text), expected));
  }
});

Deno.test("splitCommandLine() rejects unbalanced quotes and a trailing backslash", async (t) => {
  const cases: [string, string][] = [
    ["echo 'hi", "unbalanced single quote"],
    [`echo "hi`, "unbalanced double quote"],
    [`echo "hi\\"`, "unbalanced double quote"],
    ["echo hi\\", "trailing backslash"],
    [`python3 -c 'print("x")`, "unbalanced single quote"],
  ];
  for (const [text, problem] of cases) {
    await t.step(JSON.stringify(text), () => {
      throws(() => splitCommandLine(text), (error: unknown) => {
        ok(error instanceof InvalidInputError);
        equal(error.message, `Cannot parse command: ${problem} in ${JSON.stringify(text)}`);
        equal(error.field, "command");
        return true;
      });
    });
  }
});
