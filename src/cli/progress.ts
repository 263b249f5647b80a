/**
 * Progress on long work: a line rewritten in place on stderr when it is a terminal, nothing
 * otherwise (so piped output stays quiet and line-oriented).
 */
export class Progress {
  readonly #label: string;
  readonly #tty: boolean;
  #last = 0;
  #start = performance.now();
  #shown = false;

  constructor(label: string, stream: NodeJS.WriteStream = process.stderr) {
    this.#label = label;
    this.#tty = stream.isTTY === true && process.env.OMNIVEC_NO_PROGRESS === undefined;
  }

  update(done: number, total?: number, unit = 'records'): void {
    if (!this.#tty) return;
    const now = performance.now();
    if (now - this.#last < 100 && (total === undefined || done < total)) return;
    this.#last = now;
    const secs = (now - this.#start) / 1000;
    const rate = secs > 0 ? Math.round(done / secs) : 0;
    let bar = '';
    if (total !== undefined && total > 0) {
      const w = 24;
      const f = Math.min(w, Math.round((done / total) * w));
      bar = `[${'#'.repeat(f)}${'.'.repeat(w - f)}] ${Math.floor((100 * done) / total)}% `;
    }
    process.stderr.write(`\r${this.#label} ${bar}${done.toLocaleString('en-US')}${total !== undefined ? '/' + total.toLocaleString('en-US') : ''} ${unit} (${rate.toLocaleString('en-US')}/s, ${secs.toFixed(1)} s)\x1b[K`);
    this.#shown = true;
  }

  done(): void {
    if (this.#shown) process.stderr.write('\n');
    this.#shown = false;
  }
}
