import { deepEqual, equal, ok } from "node:assert/strict";
import { Argument, Command, type CommandUnknownOpts, Option } from "@commander-js/extra-typings";
import { COMPLETION_SHELLS, completionScript } from "./completion_script.ts";
import { type CompletionSpec, completionSpecOf } from "./completion_spec.ts";

/** A small program with every kind of verb, flag and argument the generator handles. */
function demoProgram(): CommandUnknownOpts {
  const program = new Command("demo")
    .option("--config <path>", "config file")
    .option("-q, --quiet", "say less");
  program.command("run").alias("r").description("run it\nsecond line")
    .argument("<target>")
    .option("-m, --mode <mode>", "how [fast] it's run")
    .addOption(new Option("--color <when>", "colour").choices(["auto", "never"]));
  program.command("secret", { hidden: true });
  program.command("shell").addArgument(new Argument("<shell>").choices(["a", "b"]));
  return program;
}

Deno.test("completionSpecOf() lists the visible verbs, their flags, aliases and choices", () => {
  const spec = completionSpecOf(demoProgram());
  equal(spec.program, "demo");
  deepEqual(spec.verbs.map((verb) => verb.name), ["run", "shell", "help"]);
  deepEqual(spec.flags.map((flag) => flag.long), ["config", "quiet", "help"]);
  const run = spec.verbs[0]!;
  deepEqual(run.aliases, ["r"]);
  equal(run.description, "run it");
  deepEqual(run.args, ["target"]);
  deepEqual(run.flags.map((flag) => [flag.short, flag.long, flag.value?.kind]), [
    ["m", "mode", "text"],
    [undefined, "color", "choice"],
    ["h", "help", undefined],
    [undefined, "config", "path"],
    ["q", "quiet", undefined],
  ]);
  deepEqual(spec.verbs[1]!.choices, ["a", "b"]);
  deepEqual(spec.verbs[2]!.choices, ["run", "shell", "help"]);
});

Deno.test("completionScript() names every verb and alias in each shell, and no hidden one", () => {
  const spec: CompletionSpec = completionSpecOf(demoProgram());
  for (const shell of COMPLETION_SHELLS) {
    const script = completionScript(shell, spec);
    for (const word of ["run", "r", "shell", "help", "config", "auto never"]) {
      ok(script.includes(word), `${shell}: ${word} missing`);
    }
    ok(!script.includes("secret"), `${shell}: the hidden verb is listed`);
    ok(script.endsWith("\n"));
  }
});

Deno.test("completionScript() quotes descriptions for zsh and fish", () => {
  const spec = completionSpecOf(demoProgram());
  ok(
    completionScript("zsh", spec).includes(
      `'(-m --mode)'{-m,--mode}'[how \\[fast\\] it'\\''s run]:mode: '`,
    ),
  );
  ok(completionScript("fish", spec).includes(`-s m -l mode -x -d 'how [fast] it\\'s run'`));
});

Deno.test("the bash script is valid bash and completes the demo program", async () => {
  const script = completionScript("bash", completionSpecOf(demoProgram()));
  const run = async (...words: string[]): Promise<string[]> => {
    const out = await new Deno.Command("bash", {
      args: [
        "-c",
        'eval "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _demo; ' +
        `printf '%s\\n' "\${COMPREPLY[@]}"`,
        "_",
        script,
        "demo",
        ...words,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    equal(new TextDecoder().decode(out.stderr), "");
    return new TextDecoder().decode(out.stdout).split("\n").filter((word) => word !== "");
  };
  deepEqual(await run(""), ["run", "r", "shell", "help"]);
  deepEqual(await run("r", "--color", ""), ["auto", "never"]);
  deepEqual(await run("run", "-"), [
    "-m",
    "--mode",
    "--color",
    "-h",
    "--help",
    "--config",
    "-q",
    "--quiet",
  ]);
  deepEqual(await run("shell", ""), ["a", "b"]);
  deepEqual(await run("--config", "x.toml", "sh"), ["shell"]);
});
