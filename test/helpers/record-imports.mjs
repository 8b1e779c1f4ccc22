// Preloaded with `node --import` by a test: writes the URL of every module the process resolves to the file
// named by RECORD_IMPORTS, one a line, so the test can see what a command loaded (and what it did not).
// The same file is the hooks module: registered from the main thread, it runs in the loader's thread.
import { appendFileSync } from 'node:fs';
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

if (isMainThread && process.env.RECORD_IMPORTS) register(import.meta.url);

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (process.env.RECORD_IMPORTS) appendFileSync(process.env.RECORD_IMPORTS, `${resolved.url}\n`);
  return resolved;
}
