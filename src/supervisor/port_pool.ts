/**
 * Allocates instance ports from the configured range. A port is handed out only when nobody else
 * in this daemon holds it and the injected check says the OS has it free (a foreign listener must
 * never be mistaken for the app).
 * @module
 */
import { UnavailableError } from "../core/errors.ts";
import type { PortAllocator } from "./ports.ts";

/** Options for a port pool. */
export interface PortPoolOptions {
  readonly start: number;
  readonly end: number;
  /** True when binding 127.0.0.1:port would succeed right now. */
  readonly isFree: (port: number) => Promise<boolean>;
}

/** Round-robin allocator over [start, end], skipping ports in use. */
export class PortPool implements PortAllocator {
  readonly #start: number;
  readonly #end: number;
  readonly #isFree: (port: number) => Promise<boolean>;
  readonly #taken = new Set<number>();
  #cursor: number;

  constructor(options: PortPoolOptions) {
    this.#start = options.start;
    this.#end = options.end;
    this.#isFree = options.isFree;
    this.#cursor = options.start;
  }

  /** Next free port; throws UnavailableError when the whole range is in use. */
  async allocate(): Promise<number> {
    const size = this.#end - this.#start + 1;
    for (let i = 0; i < size; i++) {
      const port = this.#cursor;
      this.#cursor = port >= this.#end ? this.#start : port + 1;
      if (this.#taken.has(port)) continue;
      this.#taken.add(port);
      if (await this.#isFree(port)) return port;
      this.#taken.delete(port);
    }
    throw new UnavailableError(
      `Cannot allocate a port: every port from ${this.#start} to ${this.#end} is in use`,
    );
  }

  /** Gives a port back. */
  release(port: number): void {
    this.#taken.delete(port);
  }

  /** Ports currently handed out. */
  get inUse(): number {
    return this.#taken.size;
  }
}
