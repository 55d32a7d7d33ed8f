/**
 * What the proxy needs from whoever owns the instances: a target for a Host, and bookkeeping of
 * requests in flight. The proxy owns this interface; the supervisor satisfies it.
 * @module
 */

/** Where the proxy sends a request. */
export interface Target {
  readonly service: string;
  readonly id: string;
  readonly port: number;
  /** The instance's Unix socket, set only while its app listens there (else TCP `port`). */
  readonly socketPath: string | undefined;
  readonly requestTimeoutMs: number;
  /** A Set-Cookie value to add to the response (sticky canary routing), if any. */
  readonly setCookie?: string;
}

/** What the proxy needs from the supervisor. */
export interface TargetResolver {
  /**
   * Target of `{id}.{service}`; wakes (or creates) the instance and waits until it is ready.
   * `clientIp` (the client's address) keys the per-client wake and creation rates.
   */
  resolveDirect(
    service: string,
    id: string,
    signal: AbortSignal,
    clientIp?: string,
  ): Promise<Target>;
  /**
   * Target for `{service}`, chosen by weight among healthy instances; wakes one if none is up.
   * `stickyId` is the instance the client's sticky cookie names, kept while it can take traffic.
   */
  resolveWeighted(
    service: string,
    signal: AbortSignal,
    stickyId?: string,
    clientIp?: string,
  ): Promise<Target>;
  /** Marks a request in flight; call the returned function when its response is done. */
  beginRequest(target: Target): () => void;
  /** The target's process refused a connection: wait for its restart if it died. */
  waitForRestart(target: Target, signal: AbortSignal): Promise<Target | undefined>;
}
