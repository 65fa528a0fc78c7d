import type { Interval } from '../scheduling';

/** How far around the wanted time a journey looks for a free slot. */
export const SLOT_SEARCH_BEFORE_MS = 7 * 24 * 3600_000;
export const SLOT_SEARCH_AFTER_MS = 14 * 24 * 3600_000;

/** The range to search for a slot near `target` that starts no earlier than `notBefore`. */
export function slotSearchRange(target: number, notBefore: number): { from: Date; to: Date } {
  const from = Math.max(notBefore, target - SLOT_SEARCH_BEFORE_MS);
  return { from: new Date(from), to: new Date(Math.max(from, target) + SLOT_SEARCH_AFTER_MS) };
}

/** The free slot whose start is nearest to `target` (the earlier one on a tie), or null when there is none. */
export function nearestSlot(slots: readonly Interval[], target: number): Interval | null {
  let best: Interval | null = null;
  for (const slot of slots) {
    const distance = Math.abs(slot.startsAt.getTime() - target);
    const bestDistance = best ? Math.abs(best.startsAt.getTime() - target) : Infinity;
    if (distance < bestDistance || (distance === bestDistance && best && slot.startsAt < best.startsAt)) best = slot;
  }
  return best;
}
