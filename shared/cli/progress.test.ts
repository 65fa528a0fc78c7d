import { formatProgress } from './progress';

describe('progress line', () => {
  it('shows counts, percentage, rate and time left', () => {
    expect(formatProgress({ done: 500, total: 2000, elapsedMs: 2000 }, 10)).toBe('[###-------] 500/2000 25.0% 250/s ETA 00:06');
  });

  it('shows hours for long runs, no estimate before the first batch, and a full bar at the end', () => {
    expect(formatProgress({ done: 1, total: 100_000, elapsedMs: 1000 }, 4)).toBe('[----] 1/100000 0.0% 1/s ETA 27:46:39');
    expect(formatProgress({ done: 0, total: 10, elapsedMs: 0 }, 4)).toBe('[----] 0/10 0.0% 0/s ETA --:--');
    expect(formatProgress({ done: 10, total: 10, elapsedMs: 500 }, 4)).toBe('[####] 10/10 100.0% 20/s ETA 00:00');
    expect(formatProgress({ done: 0, total: 0, elapsedMs: 5 }, 4)).toBe('[####] 0/0 100.0% 0/s ETA 00:00');
  });
});
