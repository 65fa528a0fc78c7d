import { minutesToMs } from './settings';
import { QuietHours, quietWindowAt } from './quiet-hours';
import { outOfQuietHours } from './reminders';

/** One instruction of a service kind (shared/service-kinds): its key and offset only, the text is rendered at send time. */
export interface InstructionTiming {
  key: string;
  offsetMinutes: number;
}

export interface PlannedInstruction {
  /** Unique among the journey's steps: `prep-<key>` or `after-<key>`. */
  key: string;
  /** The kind's instruction key (the template param). */
  instruction: string;
  at: number;
}

interface Common {
  quietHours: QuietHours | null;
  /** IANA zone the quiet hours are read in (the clinic's). */
  timezone: string;
}

/**
 * When each preparation instruction goes out: `offsetMinutes` before the visit, moved out of the
 * patient's quiet hours like a reminder (planReminders). One whose time had passed when the visit got
 * its time (`armedAt`) is skipped: it would arrive too late to prepare.
 */
export function planPreparation(input: Common & { startsAt: number; armedAt: number; instructions: readonly InstructionTiming[] }): PlannedInstruction[] {
  const planned: PlannedInstruction[] = [];
  for (const i of input.instructions) {
    const nominalAt = input.startsAt - minutesToMs(i.offsetMinutes);
    if (!(i.offsetMinutes > 0) || nominalAt < input.armedAt) continue;
    const at = outOfQuietHours(nominalAt, input);
    if (at !== null) planned.push({ key: `prep-${i.key}`, instruction: i.key, at });
  }
  return planned.sort((a, b) => a.at - b.at);
}

/**
 * When each after-care instruction goes out: `offsetMinutes` after the visit's end; one falling in
 * the patient's quiet hours waits for them to end (after the visit there is nothing to be too late for).
 */
export function planAfterCare(input: Common & { endsAt: number; instructions: readonly InstructionTiming[] }): PlannedInstruction[] {
  return input.instructions
    .filter((i) => i.offsetMinutes >= 0)
    .map((i) => {
      const nominalAt = input.endsAt + minutesToMs(i.offsetMinutes);
      const quiet = input.quietHours ? quietWindowAt(nominalAt, input.quietHours, input.timezone) : null;
      return { key: `after-${i.key}`, instruction: i.key, at: quiet ? quiet.end : nominalAt };
    })
    .sort((a, b) => a.at - b.at);
}
