/**
 * `ten completions bash|zsh|fish`: prints a completion script for the verbs and flags of this
 * very program, so it cannot drift from them.
 * @module
 */
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import { completionScript, type CompletionShell } from "../completion_script.ts";
import { completionSpecOf } from "../completion_spec.ts";
import { out } from "../output.ts";

/** How to load each shell's script, for `ten completions --help`. */
export const COMPLETIONS_HELP = `
Load the script in your shell:
  bash  source <(ten completions bash)          (e.g. in ~/.bashrc)
  zsh   source <(ten completions zsh)           (after compinit, e.g. in ~/.zshrc)
  fish  ten completions fish > ~/.config/fish/completions/ten.fish`;

/** `ten completions <shell>`. */
export function completionsVerb(shell: CompletionShell, program: CommandUnknownOpts): number {
  out.line(completionScript(shell, completionSpecOf(program)).trimEnd());
  return 0;
}
