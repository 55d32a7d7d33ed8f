/**
 * Config reload for `ten reload` (`POST /api/reload`) and SIGHUP: reads and validates the file
 * the daemon was started with, and puts it in force only when it is good. One reload at a time;
 * each is logged with its report, or with the problems of a refused file.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Config } from "../config/schema.ts";
import {
  describeReload,
  NOTHING_CHANGED,
  type ReloadOutcome,
  type ReloadReport,
} from "../config/reload_report.ts";
import { messageOf, TenementError } from "../core/errors.ts";

const log = getLogger(["tenement", "config"]);

/** What the reloader needs. */
export interface ConfigReloaderDeps {
  /** Reads and validates the config file again (throws ConfigErrors for a bad file). */
  readonly read: () => Promise<Config>;
  /** Puts a good config in force (the supervisor). */
  readonly apply: (next: Config) => ReloadReport;
}

/** Reloads the config, one reload at a time. */
export class ConfigReloader {
  readonly #deps: ConfigReloaderDeps;
  #last: Promise<unknown> = Promise.resolve();

  constructor(deps: ConfigReloaderDeps) {
    this.#deps = deps;
  }

  /** Reads the file and applies it when good; never throws for a bad file. */
  reload(): Promise<ReloadOutcome> {
    const next = this.#last.then(() => this.#reloadNow());
    this.#last = next.catch(() => {});
    return next;
  }

  async #reloadNow(): Promise<ReloadOutcome> {
    let config: Config;
    try {
      config = await this.#deps.read();
    } catch (err: unknown) {
      // Anything tenement says about the file (syntax, validation, missing) refuses it; a bug
      // is not a bad file and goes to the caller.
      if (!(err instanceof TenementError)) throw err;
      const message = messageOf(err);
      log.error("Config reload refused, {nothing}:\n{message}", {
        nothing: NOTHING_CHANGED,
        message,
      });
      return { isApplied: false, message };
    }
    const report = this.#deps.apply(config);
    for (const line of describeReload(report)) log.info("{line}", { line });
    for (const warning of report.warnings) log.warn("{warning}", { warning });
    return { isApplied: true, report };
  }
}
