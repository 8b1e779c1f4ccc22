/**
 * Request bodies: seeded 128-feature vectors for the MLP functions, the committed text-line images
 * (test/fixtures/*.png, base64) for the ocr-cls ones. The same bytes for every peer and every run.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** 16 JSON bodies `{"features": [128 numbers]}`, the same on every machine. */
export function mlpBodies(): string[] {
  let s = 12345;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  return Array.from({ length: 16 }, () => JSON.stringify({ features: Array.from({ length: 128 }, () => Number(rand().toFixed(4))) }));
}

/** Bodies per function name, by the model each function uses. */
export async function makeBodies(root: string, fns: Iterable<{ name: string; model: string }>): Promise<Map<string, string[]>> {
  const fixtures = path.join(root, 'test/fixtures');
  const images: string[] = [];
  for (const f of (await readdir(fixtures)).filter((f) => f.endsWith('.png')).sort())
    images.push((await readFile(path.join(fixtures, f))).toString('base64'));
  const features = mlpBodies();
  const out = new Map<string, string[]>();
  for (const f of fns) out.set(f.name, f.model === 'mlp' ? features : images.map((image) => JSON.stringify({ image })));
  return out;
}
