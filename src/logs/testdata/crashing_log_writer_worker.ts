/**
 * A log writer worker that throws on every message: for the test that the store survives it.
 * @module
 */
(globalThis as unknown as { onmessage: () => void }).onmessage = () => {
  throw new Error("log writer worker crashed on purpose");
};
