import { OmnivecError } from '../../errors.js';

/**
 * The sharp seam: sharp (libvips) is imported here and nowhere else, lazily, on the first image
 * decoded (preprocess.ts) or PNG rendered (viz/scatter.ts, tasks/diversity.ts). Importing it costs
 * ~90–120 ms (median of 9 fresh `node -e "await import('sharp')"` on the 2-core dev machine, busy:
 * 95 ms at best) — most of `import 'omnivec'` before it moved here — and loads a 20 MB native
 * library, so code that never touches an image must not pay for it. The module is cached: later
 * calls cost one resolved promise.
 */
type Sharp = typeof import('sharp').default;
let sharpPromise: Promise<Sharp> | undefined;

export async function loadSharp(): Promise<Sharp> {
  sharpPromise ??= import('sharp').then((m) => m.default, (e: Error) => {
    sharpPromise = undefined;
    throw new OmnivecError('encoder_error', `sharp could not be loaded (${e.message}); reinstall it with "npm install sharp"`);
  });
  return sharpPromise;
}

/** An SVG picture rendered to PNG (the maps' and the tasks' charts). */
export async function svgToPng(svg: string): Promise<Buffer> {
  const sharp = await loadSharp();
  return sharp(Buffer.from(svg)).png().toBuffer();
}
