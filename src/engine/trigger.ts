/** Triggers are stored as JSON: this brings their times back as Date objects. */
import type { TriggerOrigin } from './types.js';

export function reviveTrigger(trigger: TriggerOrigin): TriggerOrigin {
  if (trigger.kind === 'event' && !(trigger.event.time instanceof Date)) {
    return { ...trigger, event: { ...trigger.event, time: new Date(trigger.event.time as unknown as string) } };
  }
  if (trigger.kind === 'cron' && !(trigger.scheduledAt instanceof Date)) {
    return { ...trigger, scheduledAt: new Date(trigger.scheduledAt as unknown as string) };
  }
  return trigger;
}
