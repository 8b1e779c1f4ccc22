/**
 * Renders the OCR test fixtures in test/fixtures/ (committed; re-run only to
 * change them):
 *
 *   npx tsx scripts/gen-fixtures.ts
 *
 * Each fixture is one line of text, rendered from an SVG <text> element by
 * sharp (librsvg + fontconfig) in DejaVu Sans 40 px, near-black (#111) on white.
 * The rendering is cropped to the ink (sharp trim) and given a 10 px white
 * margin, i.e. roughly what a text detector's crop looks like, and saved as an
 * 8-bit greyscale PNG (a few KB; greyscale also exercises decodeImage's
 * conversion to RGB). Every line also gets a copy rotated by 180 degrees
 * (`<name>.rot180.png`) for the direction classifier.
 *
 * test/fixtures/fixtures.json lists { file, text, angle } for every image;
 * `text` is the exact string the PP-OCRv4 recogniser must read from the
 * upright image (checked by test/e2e/ocr-preprocess.test.ts). Strings were chosen
 * among ones the recogniser reads exactly with this font and size.
 *
 * Rendering depends on the system's DejaVu Sans and librsvg, so bytes may
 * differ slightly on other machines; the committed files are the reference.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

export const FIXTURES_DIR = fileURLToPath(new URL('../test/fixtures/', import.meta.url));

export interface FixtureEntry {
  file: string;
  text: string;
  angle: 0 | 180;
}

/** slug (file name stem) -> text */
const LINES: Array<[string, string]> = [
  ['hello-world', 'HELLO WORLD'],
  ['edgebatch-2026', 'edgebatch 2026'],
  ['serverless-inference', 'Serverless inference'],
];

const FONT_SIZE = 40;
const MARGIN = 10;

const escapeXml = (s: string) =>
  s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c);

export async function renderLine(text: string): Promise<Buffer> {
  // generous canvas; the ink is cropped afterwards, so exact text metrics are not needed
  const width = Math.ceil(text.length * FONT_SIZE * 0.8) + 4 * MARGIN;
  const height = FONT_SIZE * 2;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<rect width="100%" height="100%" fill="#ffffff"/>` +
    `<text x="${2 * MARGIN}" y="${Math.round(FONT_SIZE * 1.4)}" font-family="DejaVu Sans" ` +
    `font-size="${FONT_SIZE}" fill="#111111">${escapeXml(text)}</text></svg>`;
  const cropped = await sharp(Buffer.from(svg))
    .flatten({ background: '#ffffff' })
    .trim({ background: '#ffffff', threshold: 10 })
    .toBuffer();
  return sharp(cropped)
    .extend({ top: MARGIN, bottom: MARGIN, left: MARGIN, right: MARGIN, background: '#ffffff' })
    .greyscale()
    .png({ compressionLevel: 9 })
    .toBuffer();
}

export async function generateFixtures(): Promise<FixtureEntry[]> {
  await mkdir(FIXTURES_DIR, { recursive: true });
  const entries: FixtureEntry[] = [];
  for (const [slug, text] of LINES) {
    const upright = await renderLine(text);
    const rotated = await sharp(upright).rotate(180).png({ compressionLevel: 9 }).toBuffer();
    for (const [file, bytes, angle] of [
      [`${slug}.png`, upright, 0],
      [`${slug}.rot180.png`, rotated, 180],
    ] as const) {
      await writeFile(path.join(FIXTURES_DIR, file), bytes);
      const { width, height } = await sharp(bytes).metadata();
      console.log(`test/fixtures/${file}: ${width}x${height}, ${bytes.length} bytes, angle ${angle}, ${JSON.stringify(text)}`);
      entries.push({ file, text, angle });
    }
  }
  const manifest = { generator: 'scripts/gen-fixtures.ts', fixtures: entries };
  await writeFile(path.join(FIXTURES_DIR, 'fixtures.json'), JSON.stringify(manifest, null, 2) + '\n');
  console.log(`test/fixtures/fixtures.json: ${entries.length} fixtures`);
  return entries;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await generateFixtures();
}
