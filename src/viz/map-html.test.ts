import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Random } from '../vector/random.js';
import { mapHtml, MAX_COLOURS } from './map-html.js';
import { withTempDir, throwsCode } from '../../test/helpers/assertions.js';

const CHROMIUM = '/usr/bin/chromium';

test('mapHtml: data inline and escaped, many labels folded into (other), argument checks', () => {
  const ids = Array.from({ length: 30 }, (_, i) => `id${i}`);
  const points = Float32Array.from({ length: 60 }, (_, i) => i);
  const html = mapHtml({ ids, points, labels: ids.map((_, i) => `l${i}`), colorBy: 'f', title: '<b>t</b>', documents: ids.map(() => '</script>') });
  assert.match(html, /<title>&#60;b&#62;t&#60;\/b&#62;<\/title>/);
  const json = /id="map-data">([\s\S]*?)<\/script>/.exec(html)![1]!;
  assert.doesNotMatch(json, /<\//);
  const d = JSON.parse(json) as { names: string[]; colours: string[]; label: number[]; documents: string[] };
  assert.equal(d.names.length, MAX_COLOURS);
  assert.equal(d.names.at(-1), '(other)');
  assert.equal(d.documents[0], '</script>');
  assert.ok(d.label.every((l) => l < MAX_COLOURS));
  throwsCode(() => mapHtml({ ids, points: points.subarray(2) }), 'invalid_argument', /points: expected 60 numbers/);
  throwsCode(() => mapHtml({ ids, points, labels: ['a'] }), 'invalid_argument', /labels: expected 30 entries/);
});

test('the HTML map in Chromium: offline, drawn, hover shows the record, zoom, pan and resize at 10,000 points', { skip: !existsSync(CHROMIUM) && 'no /usr/bin/chromium' }, async () => {
  const { chromium } = await import('playwright-core');
  await withTempDir('omnivec-projhtml-', async (dir) => {
    const rng = new Random(2);
    const n = 10_000;
    const points = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) { points[2 * i] = rng.gaussian() + (i % 7) * 3; points[2 * i + 1] = rng.gaussian() + (i % 5) * 3; }
    const ids = Array.from({ length: n }, (_, i) => `rec-${i}`);
    const file = join(dir, 'big.html');
    writeFileSync(file, mapHtml({
      ids, points, labels: ids.map((_, i) => `topic ${i % 7}`), colorBy: 'topic',
      documents: ids.map((id) => `the text of ${id}`), metadatas: ids.map((_, i) => ({ n: i })), title: 'ten thousand',
    }));
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 750 } });
      const requests: string[] = [];
      page.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`file://${file}`);
      await page.waitForFunction('window.omnivecMap !== undefined');
      assert.deepEqual(errors, []);
      assert.equal(await page.evaluate<number>('window.omnivecMap.count'), n);
      // Something is drawn: coloured pixels on the canvas.
      const inked = await page.evaluate<number>(`new Promise((resolve) => requestAnimationFrame(() => {
        const c = document.getElementById('map');
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let k = 0;
        for (let i = 3; i < px.length; i += 4) if (px[i] > 0) k++;
        resolve(k);
      }))`);
      assert.ok(inked > 10_000, `canvas pixels drawn: ${inked}`);
      assert.equal(await page.locator('#legend .item').count(), 7);

      // Hover a point: the tip names it.
      const target = 1234;
      const at = await page.evaluate<{ x: number; y: number }>(`window.omnivecMap.clientPoint(${target})`);
      await page.mouse.move(at.x, at.y);
      const tip = page.locator('#tip');
      await tip.waitFor({ state: 'visible' });
      const text = await tip.innerText();
      assert.match(text, /rec-\d+/);
      assert.match(text, /the text of rec-\d+/);
      assert.match(text, /topic: topic \d/);

      // Zoom and pan: 30 wheel steps and a drag, then 10 resizes, without a page error (checked below).
      // How fast each is answered is a benchmark figure, not a test's: `npm run bench:projection --
      // --methods ''` times them against a frame at 60 fps.
      for (let i = 0; i < 30; i++) await page.mouse.wheel(0, -60);
      await page.mouse.move(500, 400);
      await page.mouse.down();
      for (let i = 0; i < 20; i++) await page.mouse.move(500 + i * 10, 400 + i * 5);
      await page.mouse.up();
      await page.evaluate('new Promise((r) => requestAnimationFrame(r))');
      await page.evaluate(`(() => {
        for (let i = 0; i < 10; i++) window.dispatchEvent(new Event('resize'));
        return new Promise((resolve) => requestAnimationFrame(resolve));
      })()`);
      await page.locator('#legend .item').first().click();
      assert.equal(await page.locator('#legend .item.off').count(), 1, 'a legend click hides a label');
      assert.deepEqual(requests, [], 'the page fetched nothing');
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });
});
