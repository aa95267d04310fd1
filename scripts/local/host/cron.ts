/**
 * Timer triggers as CloudBase runs them: 7-field cron `sec min hour day month weekday year`,
 * read in UTC+8, day and weekday ORed when both are given (reference/cloudbase.md §1.2).
 */
import { Cron } from 'croner';

/** CloudBase reads timer crons in China Standard Time, which has no daylight saving. */
const cronUtcOffsetMinutes = 8 * 60;
/** ≤60 chars, letters, digits, `_` and `-`, starting with a letter; longer names were silently dropped by the platform. */
const triggerNamePattern = /^[A-Za-z][A-Za-z0-9_-]{0,59}$/;

/** A timer trigger as declared in cloudbaserc.json. */
export interface TimerTrigger {
  name: string;
  config: string;
}

/** Throws an error naming the function and trigger when the trigger could not be deployed. */
export function validateTrigger(functionName: string, trigger: TimerTrigger): void {
  if (!triggerNamePattern.test(trigger.name)) {
    throw new Error(
      `function ${functionName}: timer trigger name ${JSON.stringify(trigger.name)} must be 1-60 letters, digits, _ or -, starting with a letter`,
    );
  }
  try {
    new Cron(trigger.config, cronOptions(true)).stop();
  } catch (error) {
    throw new Error(
      `function ${functionName}, trigger ${trigger.name}: invalid cron ${JSON.stringify(trigger.config)} ` +
        `(CloudBase needs 7 fields: sec min hour day month weekday year, e.g. "0 */30 * * * * *"): ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** Runs `onTick` at every time the trigger's cron matches, until the returned job is stopped. */
export function scheduleTrigger(trigger: TimerTrigger, onTick: () => void): Cron {
  return new Cron(trigger.config, cronOptions(false), onTick);
}

/** The earliest firing times after `from` (the GET /functions listing shows the next one). */
export function nextFirings(config: string, count: number, from: Date): Date[] {
  const job = new Cron(config, cronOptions(true));
  const runs = job.nextRuns(count, from);
  job.stop();
  return runs;
}

function cronOptions(paused: boolean) {
  return {
    // croner 11 reads the 7th field as the year; '7-part' rejects the common 5- and 6-field mistakes.
    mode: '7-part' as const,
    utcOffset: cronUtcOffsetMinutes,
    domAndDow: false,
    paused,
    // The stack's HTTP server owns the process lifetime; a pending timer must not keep it alive.
    unref: true,
  };
}
