/**
 * The kit shared by the integration tests (tests/) and the benchmarks (bench/): neither product
 * nor test. A real `ten serve` and CLI runs from this checkout, raw HTTP clients, waiting for
 * conditions, process-group bookkeeping, temp dirs and tenement.toml builders. From src/ it
 * imports only the API's wire types, the /proc reader and the abortable delay.
 * @module
 */
export * from "./bytes.ts";
export * from "./cli.ts";
export * from "./config.ts";
export * from "./daemon.ts";
export * from "./daemon_client.ts";
export * from "./output.ts";
export * from "./paths.ts";
export * from "./pebble.ts";
export * from "./process_groups.ts";
export * from "./promtool.ts";
export * from "./raw_client.ts";
export * from "./raw_http.ts";
export * from "./start_daemon.ts";
export * from "./temp_dir.ts";
export * from "./test_ca.ts";
export * from "./wait.ts";
