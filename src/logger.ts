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

let processLogger: Logger | undefined;

/** The logger of the most recently created Baton instance, or a default one. */
export function getProcessLogger(): Logger {
  processLogger ??= createLogger((process.env.BATON_LOG_LEVEL as LogLevelSetting | undefined) ?? 'info');
  return processLogger;
}

export function setProcessLogger(logger: Logger): void {
  processLogger = logger;
}
