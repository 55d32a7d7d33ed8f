/**
 * What shell completion needs to know about `ten`, read from the commander program itself (its
 * visible verbs, their options and argument choices), so completions list exactly the verbs and
 * flags `ten --help` does. Pure: reads the program, prints nothing.
 * @module
 */
import type { CommandUnknownOpts, Option } from "@commander-js/extra-typings";

/** What a flag's value completes to: nothing, a file path, or one of some words. */
export type FlagValue =
  | { readonly kind: "text"; readonly name: string }
  | { readonly kind: "path"; readonly name: string }
  | { readonly kind: "choice"; readonly name: string; readonly choices: readonly string[] };

/** One flag, as `-s, --long <value>`. */
export interface FlagSpec {
  /** Without the dash, e.g. `p`. */
  readonly short: string | undefined;
  /** Without the dashes, e.g. `port`. */
  readonly long: string | undefined;
  readonly description: string;
  /** Undefined for a flag without a value. */
  readonly value: FlagValue | undefined;
}

/** One verb and what may follow it. */
export interface VerbSpec {
  readonly name: string;
  readonly aliases: readonly string[];
  readonly description: string;
  /** Its own flags, then the program's (which commander accepts after the verb too). */
  readonly flags: readonly FlagSpec[];
  /** Names of its positional arguments, e.g. `service:id`. */
  readonly args: readonly string[];
  /** Words its first argument can be, when they are known (e.g. the shells, the verbs). */
  readonly choices: readonly string[];
}

/** Everything a completion script knows. */
export interface CompletionSpec {
  /** The command name, `ten`. */
  readonly program: string;
  /** Flags before any verb. */
  readonly flags: readonly FlagSpec[];
  readonly verbs: readonly VerbSpec[];
}

/** The completion facts of a commander program, as its help shows them. */
export function completionSpecOf(program: CommandUnknownOpts): CompletionSpec {
  const help = program.createHelp();
  const globals = help.visibleOptions(program).map(flagOf);
  const commands = help.visibleCommands(program);
  const verbNames = commands.map((cmd) => cmd.name());
  const verbs = commands.map((cmd): VerbSpec => {
    const own = help.visibleOptions(cmd).map(flagOf);
    const ownNames = new Set(own.map(flagKey));
    const isHelpVerb = !program.commands.includes(cmd);
    const args = cmd.registeredArguments;
    return {
      name: cmd.name(),
      aliases: cmd.aliases(),
      description: firstLine(help.subcommandDescription(cmd)),
      flags: [...own, ...globals.filter((flag) => !ownNames.has(flagKey(flag)))],
      args: args.map((arg) => arg.name()),
      choices: isHelpVerb ? verbNames : [...args[0]?.argChoices ?? []],
    };
  });
  return { program: program.name(), flags: globals, verbs };
}

function flagOf(option: Option): FlagSpec {
  const takesValue = option.required || option.optional;
  const name = /[<[]([^>\]]+)[>\]]/.exec(option.flags)?.[1]?.replace(/\.\.\.$/, "") ?? "value";
  let value: FlagValue | undefined;
  if (takesValue) {
    value = option.argChoices !== undefined
      ? { kind: "choice", name, choices: option.argChoices }
      : { kind: /path|file|dir/.test(name) ? "path" : "text", name };
  }
  return {
    short: option.short?.replace(/^-/, ""),
    long: option.long?.replace(/^--/, ""),
    description: firstLine(option.description),
    value,
  };
}

/** Identity of a flag, to drop the program's flags a verb redefines. */
export function flagKey(flag: FlagSpec): string {
  return `${flag.short ?? ""}/${flag.long ?? ""}`;
}

function firstLine(text: string): string {
  return text.split("\n")[0] ?? "";
}

/** `-s` and `--long`, as typed. */
export function spellings(flag: FlagSpec): string[] {
  return [
    ...flag.short === undefined ? [] : [`-${flag.short}`],
    ...flag.long === undefined ? [] : [`--${flag.long}`],
  ];
}
