/** A progress indicator on stderr; silent unless stdout is a terminal (so pipes and files stay clean). */
export interface Progress {
  /** Sets how much is done; `total` may become known late (undefined = unknown). */
  update(done: number, total?: number): void;
  /** Draws the final state and ends the line. */
  finish(): void;
}

const WIDTH = 30;
const REDRAW_MS = 100;

/** A small hand-written bar: `label [#####-----]  45%  450/1000`. */
export function createProgress(label: string, options: { enabled?: boolean; total?: number } = {}): Progress {
  const enabled = options.enabled ?? process.stdout.isTTY === true;
  if (!enabled) return { update() {}, finish() {} };
  let done = 0;
  let total = options.total;
  let drawnAt = 0;
  let drawn = false;

  function draw(): void {
    drawnAt = Date.now();
    drawn = true;
    let line: string;
    if (total !== undefined && total > 0) {
      const ratio = Math.min(1, done / total);
      const filled = Math.round(ratio * WIDTH);
      const percent = `${Math.floor(ratio * 100)}%`.padStart(4);
      line = `${label} [${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${percent}  ${done}/${total}`;
    } else {
      line = `${label} ${done}`;
    }
    process.stderr.write(`\r${line}\x1b[K`);
  }

  return {
    update(value, newTotal) {
      done = value;
      if (newTotal !== undefined) total = newTotal;
      if (Date.now() - drawnAt >= REDRAW_MS) draw();
    },
    finish() {
      draw();
      if (drawn) process.stderr.write('\n');
    },
  };
}
