/**
 * The version `ten --version` prints.
 * @module
 */

/** tenement's version. */
export const VERSION = "0.3.0";
