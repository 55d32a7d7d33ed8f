/**
 * The config the supervisor runs, replaceable while it runs (`ten reload`, SIGHUP). Every reader
 * takes `current` once per operation and uses that snapshot throughout, and `replace` swaps the
 * whole config in one assignment: an operation sees the old config or the new one, never a mix.
 * @module
 */
import type { Config, ServiceConfig } from "../config/schema.ts";

/** Holds the config in force. */
export class LiveConfig {
  #current: Config;

  constructor(initial: Config) {
    this.#current = initial;
  }

  /** The config in force now. */
  get current(): Config {
    return this.#current;
  }

  /** Puts `next` in force for everything that reads the config from now on. */
  replace(next: Config): void {
    this.#current = next;
  }

  /** The current definition of service `name`, if the config still has it. */
  service(name: string): ServiceConfig | undefined {
    return this.#current.services.get(name);
  }
}
