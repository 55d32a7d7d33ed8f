/**
 * Logging set-up: tenement's own diagnostics go to stderr through logtape. The level comes from
 * `TENEMENT_LOG` (or `RUST_LOG`, which the original's systemd unit sets): debug, info, warning,
 * error. `ten serve` defaults to info; client commands to warning.
 * @module
 */
import { configure, getTextFormatter, type LogLevel, type LogRecord } from "@logtape/logtape";

const LEVELS: Record<string, LogLevel> = {
  trace: "trace",
  debug: "debug",
  info: "info",
  warn: "warning",
  warning: "warning",
  error: "error",
  off: "fatal",
};

/** Configures logtape once for this process. */
export async function setupLogging(defaultLevel: LogLevel, env: {
  readonly TENEMENT_LOG?: string | undefined;
  readonly RUST_LOG?: string | undefined;
}): Promise<void> {
  const requested = (env.TENEMENT_LOG ?? env.RUST_LOG ?? "").trim().toLowerCase();
  const level = LEVELS[requested] ?? defaultLevel;
  const format = getTextFormatter({ timestamp: "date-time", value: "bare" });
  const encoder = new TextEncoder();
  const stderrSink = (record: LogRecord): void => {
    try {
      Deno.stderr.writeSync(encoder.encode(format(record)));
    } catch {
      // stderr closed: nothing left to tell.
    }
  };
  await configure({
    reset: true,
    sinks: { stderr: stderrSink },
    loggers: [
      { category: ["tenement"], lowestLevel: level, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}
