/**
 * A log writer worker that never answers (as a dead or wedged one): for the test that lines it
 * never wrote are counted as dropped when the store closes.
 * @module
 */
(globalThis as unknown as { onmessage: () => void }).onmessage = () => {};
