/**
 * Progress on long work: a line rewritten in place on stderr when it is a terminal, nothing
 * otherwise (so piped output stays quiet and line-oriented). A line still shown when the command
 * ends — normally, by an error or by Ctrl-C — is ended by `endProgressLines()` (main and the
 * interrupt handler call it), so the next output starts on a line of its own.
 */
const shown = new Set<Progress>();

export class Progress {
  readonly #label: string;
  readonly #stream: NodeJS.WritableStream;
  readonly #tty: boolean;
  #last = 0;
  #start = performance.now();
  #shown = false;

  constructor(label: string, stream: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr) {
    this.#label = label;
    this.#stream = stream;
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
    this.#stream.write(`\r${this.#label} ${bar}${done.toLocaleString('en-US')}${total !== undefined ? '/' + total.toLocaleString('en-US') : ''} ${unit} (${rate.toLocaleString('en-US')}/s, ${secs.toFixed(1)} s)\x1b[K`);
    this.#shown = true;
    shown.add(this);
  }

  /** Ends the line (a newline) when it was shown. */
  done(): void {
    if (this.#shown) this.#stream.write('\n');
    this.#shown = false;
    shown.delete(this);
  }
}

/** Ends every progress line still shown (a newline each), so what follows starts on its own line. */
export function endProgressLines(): void {
  for (const p of [...shown]) p.done();
}
