/**
 * The process logger (pino): where `taskLog` goes outside a task, where a closed
 * context's leftover `log` calls go, and where background loops report errors.
 */
import { pino } from 'pino';

export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  /** A logger adding `bindings` to every line (pino's `child`); optional for custom loggers. */
  child?(bindings: Record<string, unknown>): Logger;
  /** Whether lines of this level are written (pino's `isLevelEnabled`); optional for custom loggers. */
  isLevelEnabled?(level: string): boolean;
}

export type LogLevelSetting = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export function createLogger(level: LogLevelSetting = 'info'): Logger {
  return pino({ name: 'baton', level }, pino.destination({ dest: 2, sync: false }));
}

/** A logger that adds `bindings` to each line: the logger's own `child`, or a wrapper. */
export function bindLogger(logger: Logger, bindings: Record<string, unknown>): Logger {
  if (typeof logger.child === 'function') return logger.child(bindings);
  const bound = (level: 'debug' | 'info' | 'warn' | 'error') => (obj: object, msg?: string) =>
    logger[level]({ ...bindings, ...obj }, msg);
  return { debug: bound('debug'), info: bound('info'), warn: bound('warn'), error: bound('error') };
}

/**
 * A background loop's warning that repeats while something stays broken (a read-only or
 * unreachable database): the first failure is logged at once, later ones at most once per
 * `everyMs` (with how many were left out), so an outage does not flood the log.
 */
export class RepeatedWarning {
  #lastAt = Number.NEGATIVE_INFINITY;
  #skipped = 0;

  constructor(private readonly everyMs = 10_000) {}

  /** Logs `msg` unless this warning was logged less than `everyMs` ago (monotonic time). */
  warn(logger: Logger, fields: object, msg: string): void {
    const now = performance.now();
    if (now - this.#lastAt < this.everyMs) {
      this.#skipped++;
      return;
    }
    logger.warn(this.#skipped > 0 ? { ...fields, repeatsNotLogged: this.#skipped } : fields, msg);
    this.#lastAt = now;
    this.#skipped = 0;
  }

  /** The loop works again: its next failure is logged at once. */
  reset(): void {
    this.#lastAt = Number.NEGATIVE_INFINITY;
    this.#skipped = 0;
  }
}

let processLogger: Logger | undefined;

/** The logger of the most recently created Baton instance, or a default one. */
export function getProcessLogger(): Logger {
  processLogger ??= createLogger((process.env.BATON_LOG_LEVEL as LogLevelSetting | undefined) ?? 'info');
  return processLogger;
}

export function setProcessLogger(logger: Logger): void {
  processLogger = logger;
}
