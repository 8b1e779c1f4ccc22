/**
 * `npx tsx scripts/stalled-clients.ts [--connections 3000] [--request-timeout 3s]`: opens that many
 * connections to a runtime (hono.config.ts as shipped, on a free loopback port, in this process), each
 * sending headers and the start of a body that never finishes, and reports how many were answered 408 and
 * closed by `limits.requestTimeout`, how long the last one took, and the process's RSS before, while
 * they are held, and after (both ends of every connection live in this process).
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import { loadConfig, serve } from 'edgebatch';
import { ensureModels } from './gen-models.ts';

const { values } = parseArgs({
  options: { connections: { type: 'string', default: '3000' }, 'request-timeout': { type: 'string', default: '3s' } },
});
const n = Number(values.connections);
if (!(Number.isInteger(n) && n > 0 && n <= 4096))
  throw new RangeError('--connections must be an integer in [1, 4096] (the default limits.maxConnections)');
const requestTimeout = values['request-timeout'] as `${number}s`;

await ensureModels();
const env = { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'silent' };
const s = await serve(await loadConfig('hono.config.ts', { limits: { requestTimeout, headersTimeout: requestTimeout } }, env));
const port = Number(new URL(s.url).port);
const mb = () => Math.round(process.memoryUsage().rss / 2 ** 20);
const rssBefore = mb();
const started = performance.now();
let closed = 0;
let answered408 = 0;
const allClosed = new Promise<void>((resolve) => {
  for (let i = 0; i < n; i++) {
    const c = net.connect({ host: '127.0.0.1', port }, () =>
      c.write(
        'POST /functions/mlp-classify HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n{"features": [',
      ),
    );
    c.on('data', (d) => {
      if (String(d).startsWith('HTTP/1.1 408')) answered408++;
    });
    c.on('error', () => {});
    c.on('close', () => {
      if (++closed === n) resolve();
    });
  }
});
await new Promise((r) => setTimeout(r, 1000));
const rssHeld = mb();
await allClosed;
const seconds = (performance.now() - started) / 1000;
await s.stop();
console.log(
  JSON.stringify({
    connections: n,
    requestTimeout,
    answered408,
    closed,
    lastClosedAfterS: Number(seconds.toFixed(1)),
    rssMb: { before: rssBefore, held: rssHeld, after: mb() },
  }),
);
