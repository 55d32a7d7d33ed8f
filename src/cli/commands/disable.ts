/**
 * `ten disable service:id` and `ten enable service:id`: stop an instance and keep every request
 * from waking it (its data is kept), then allow it again without starting it.
 * @module
 */
import { formatInstanceKey, parseInstanceKey } from "../../core/instance_key.ts";
import type { GlobalOptions } from "../global_options.ts";
import { out } from "../output.ts";
import { clientFor } from "./client_verbs.ts";

/** `ten disable service:id`. */
export async function disableVerb(target: string, globals: GlobalOptions): Promise<number> {
  const ref = parseInstanceKey(target);
  const key = formatInstanceKey(ref);
  const res = await (await clientFor(globals)).disable(ref);
  out.line(
    res.changed
      ? `Disabled ${key} (stopped; requests get 403 until ten enable ${key})`
      : `${key} is already disabled`,
  );
  return 0;
}

/** `ten enable service:id`. */
export async function enableVerb(target: string, globals: GlobalOptions): Promise<number> {
  const ref = parseInstanceKey(target);
  const key = formatInstanceKey(ref);
  const res = await (await clientFor(globals)).enable(ref);
  out.line(res.changed ? `Enabled ${key} (wakes on its next request)` : `${key} is not disabled`);
  return 0;
}
