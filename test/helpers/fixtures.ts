import { readFileSync } from 'node:fs';

export interface Fixture {
  file: string;
  text: string;
  angle: 0 | 180;
  base64: string;
}

const dir = new URL('../fixtures/', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('fixtures.json', dir), 'utf8')) as { fixtures: Omit<Fixture, 'base64'>[] };

/** The committed text-line images (made by scripts/gen-fixtures.ts) with their known text and angle. */
export const fixtures: Fixture[] = manifest.fixtures.map((f) => ({ ...f, base64: readFileSync(new URL(f.file, dir)).toString('base64') }));
export const upright = fixtures.filter((f) => f.angle === 0);
export const rotated = fixtures.filter((f) => f.angle === 180);
