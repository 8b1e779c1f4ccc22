import { readFileSync } from 'node:fs';

/** A rendered "HELLO WORLD" text line (a copy of test/fixtures/hello-world.png), base64: the OCR functions' example input. */
export const sampleLine = readFileSync(new URL('./sample-line.png', import.meta.url)).toString('base64');
