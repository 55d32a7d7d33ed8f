/**
 * `ten rm service:id [--purge] [--yes]`: forgets an instance that is not running, so `ps --all`
 * no longer lists it; `--purge` also deletes its data dir, after a confirmation on a terminal.
 * @module
 */
import { InvalidInputError } from "../../core/errors.ts";
import { formatInstanceKey, parseInstanceKey } from "../../core/instance_key.ts";
import type { GlobalOptions } from "../global_options.ts";
import { askYesNo, err, out } from "../output.ts";
import { clientFor } from "./client_verbs.ts";

/** Options of `ten rm`. */
export interface RmOptions {
  readonly purge?: boolean;
  readonly yes?: boolean;
}

/** How `ten rm` confirms a purge: is stdin a terminal, and the question asked there. */
export interface Confirmation {
  readonly isTerminal: boolean;
  readonly ask: (question: string) => Promise<boolean>;
}

const TERMINAL: Confirmation = {
  get isTerminal() {
    return Deno.stdin.isTerminal();
  },
  ask: askYesNo,
};

/** `ten rm service:id [--purge] [--yes]`. */
export async function rmVerb(
  target: string,
  options: RmOptions,
  globals: GlobalOptions,
  confirmation: Confirmation = TERMINAL,
): Promise<number> {
  const ref = parseInstanceKey(target);
  const key = formatInstanceKey(ref);
  const purge = options.purge === true;
  const client = await clientFor(globals);
  if (purge && options.yes !== true) {
    // Checked first, so an unknown or running instance fails before anything is asked.
    const plan = await client.forget(ref, { purge, dryRun: true });
    if (plan.had_data_dir) {
      const question = `Delete ${plan.data_dir} and everything in it?`;
      if (!confirmation.isTerminal) {
        throw new InvalidInputError(
          `Cannot delete ${plan.data_dir} without confirmation: stdin is not a terminal; pass --yes to delete it`,
          "yes",
        );
      }
      if (!await confirmation.ask(question)) {
        err.line("Cancelled: nothing was changed");
        return 1;
      }
    }
  }
  const res = await client.forget(ref, { purge, dryRun: false });
  if (res.purged) out.line(`Forgot ${key} and deleted ${res.data_dir}`);
  else if (!res.had_data_dir) out.line(`Forgot ${key} (it had no data dir)`);
  else out.line(`Forgot ${key}; its data is kept in ${res.data_dir}`);
  return 0;
}
