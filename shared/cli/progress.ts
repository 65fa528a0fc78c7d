/**
 * Progress of long CLI jobs (key rotation, seeding, re-indexing) on stderr: a bar, counts, rate and
 * an estimate of the time left. Formatting is pure; the reporter only decides how to print.
 */
export interface ProgressState {
  done: number;
  total: number;
  elapsedMs: number;
}

const clock = (seconds: number): string => {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
};

export function formatProgress({ done, total, elapsedMs }: ProgressState, width = 30): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(ratio * width);
  const rate = elapsedMs > 0 ? done / (elapsedMs / 1000) : 0;
  const eta = done >= total ? 0 : rate > 0 ? (total - done) / rate : Infinity;
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${(ratio * 100).toFixed(1)}% ` +
    `${Math.round(rate)}/s ETA ${clock(eta)}`;
}

/** On a terminal the line redraws in place; in a log file, one line at most every `everyMs`. */
export function progressReporter(stream: NodeJS.WriteStream = process.stderr, label = '', everyMs = 1000) {
  const started = Date.now();
  let lastPrinted = 0;
  const line = (done: number, total: number) => `${label}${formatProgress({ done, total, elapsedMs: Date.now() - started })}`;
  return {
    update(done: number, total: number, force = false) {
      if (stream.isTTY) {
        stream.write(`\r${line(done, total)}`);
      } else if (force || Date.now() - lastPrinted >= everyMs) {
        stream.write(`${line(done, total)}\n`);
        lastPrinted = Date.now();
      }
    },
    finish(done: number, total: number) {
      this.update(done, total, true);
      if (stream.isTTY) stream.write('\n');
    },
  };
}
