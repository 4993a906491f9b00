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
}

export type LogLevelSetting = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export function createLogger(level: LogLevelSetting = 'info'): Logger {
  return pino({ name: 'baton', level }, pino.destination({ dest: 2, sync: false }));
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
