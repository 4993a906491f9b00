/** Cron expressions (five or six fields, seconds first when six) through croner, in a time zone (default UTC). */
import { Cron } from 'croner';
import { ValidationError } from '../errors.js';

export interface CronSpec {
  expression: string;
  timezone: string;
}

/** Parses an expression; a bad one (or an unknown time zone) is a ValidationError naming it. */
export function parseCron(expression: string, timezone = 'UTC', where = 'cron'): Cron {
  try {
    const cron = new Cron(expression, { timezone, paused: true });
    // An unknown time zone only shows when a time is computed.
    cron.nextRun(new Date(0));
    return cron;
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new ValidationError(`${where}: invalid cron expression ${JSON.stringify(expression)} (time zone ${timezone}): ${why}`, [
      { path: where, message: why },
    ]);
  }
}

/** The first fire time strictly after `after` (epoch ms), or null when there is none. */
export function nextFire(cron: Cron, after: number): number | null {
  return cron.nextRun(new Date(after))?.getTime() ?? null;
}
