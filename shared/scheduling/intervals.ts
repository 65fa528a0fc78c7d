import type { Interval } from './types';

/** Half-open [start, end) in epoch ms: plain numbers compare with === and sort without Date pitfalls. */
export interface Span {
  start: number;
  end: number;
}

export const toInterval = (span: Span): Interval => ({ startsAt: new Date(span.start), endsAt: new Date(span.end) });

/** Sorted, disjoint union; touching spans join so a booking may run across the seam (09:00–12:00 + 12:00–17:00). */
export function merge(spans: Span[]): Span[] {
  const merged: Span[] = [];
  for (const span of [...spans].sort((a, b) => a.start - b.start)) {
    const last = merged[merged.length - 1];
    if (last && span.start <= last.end) last.end = Math.max(last.end, span.end);
    else merged.push({ ...span });
  }
  return merged;
}

export function subtract(spans: Span[], cuts: Span[]): Span[] {
  return cuts.reduce(
    (rest, cut) =>
      rest.flatMap((span) =>
        cut.end <= span.start || cut.start >= span.end
          ? [span]
          : [
              { start: span.start, end: cut.start },
              { start: cut.end, end: span.end },
            ].filter((piece) => piece.end > piece.start),
      ),
    spans,
  );
}

export function clip(spans: Span[], from: number, to: number): Span[] {
  return spans
    .map((span) => ({ start: Math.max(span.start, from), end: Math.min(span.end, to) }))
    .filter((span) => span.end > span.start);
}
