/**
 * Entry point of `ten`, the CLI and daemon of tenement.
 * @module
 */
import { runCli } from "./src/cli/run_cli.ts";

Deno.exit(await runCli(Deno.args));
