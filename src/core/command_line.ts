/**
 * POSIX shell-word splitting of a service's `command` string: quotes and backslashes only, no
 * `$VAR`, globs, pipes or redirects. Pure: no I/O.
 * @module
 */
import { InvalidInputError } from "./errors.ts";

type State =
  | "between"
  | "word"
  | "backslash"
  | "single"
  | "double"
  | "double_backslash"
  | "comment";

const WHITESPACE = new Set([" ", "\t", "\n", "\r"]);
/** The only characters a backslash escapes inside double quotes (POSIX); newline is removed. */
const DOUBLE_QUOTE_ESCAPES = new Set(["$", "`", '"', "\\"]);

/**
 * Splits a command line into words the way a POSIX shell would, without any expansion.
 *
 * - `'...'` is taken literally;
 * - inside `"..."`, a backslash escapes only `$`, `` ` ``, `"`, `\` and a newline;
 * - outside quotes, a backslash escapes any character, and backslash-newline joins lines;
 * - `#` at the start of a word begins a comment that runs to the end of the line.
 *
 * @throws {InvalidInputError} on an unbalanced quote or a trailing backslash.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * deepEqual(splitCommandLine(`python3 -c 'print("hi")' "a b"`), ["python3", "-c", 'print("hi")', "a b"]);
 * ```
 */
export function splitCommandLine(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let state: State = "between";
  for (const c of text) {
    switch (state) {
      case "between":
      case "word":
        if (WHITESPACE.has(c)) {
          if (word !== undefined) words.push(word);
          word = undefined;
          state = "between";
        } else if (c === "#" && state === "between") {
          state = "comment";
        } else {
          word ??= "";
          if (c === "'") state = "single";
          else if (c === '"') state = "double";
          else if (c === "\\") state = "backslash";
          else {
            word += c;
            state = "word";
          }
        }
        break;
      case "backslash":
        if (c !== "\n") word += c;
        state = "word";
        break;
      case "single":
        if (c === "'") state = "word";
        else word += c;
        break;
      case "double":
        if (c === '"') state = "word";
        else if (c === "\\") state = "double_backslash";
        else word += c;
        break;
      case "double_backslash":
        if (DOUBLE_QUOTE_ESCAPES.has(c)) word += c;
        else if (c !== "\n") word += `\\${c}`;
        state = "double";
        break;
      case "comment":
        if (c === "\n") state = "between";
        break;
    }
  }
  const problem = unfinished(state);
  if (problem !== undefined) {
    throw new InvalidInputError(
      `Cannot parse command: ${problem} in ${JSON.stringify(text)}`,
      "command",
    );
  }
  if (word !== undefined) words.push(word);
  return words;
}

function unfinished(state: State): string | undefined {
  switch (state) {
    case "single":
      return "unbalanced single quote";
    case "double":
    case "double_backslash":
      return "unbalanced double quote";
    case "backslash":
      return "trailing backslash";
    default:
      return undefined;
  }
}
