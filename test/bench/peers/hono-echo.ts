/**
 * Peer 6, hono-echo: a bare Hono app on @hono/node-server that parses each body with `c.req.json()` and
 * answers a small JSON, with no schema, no model and no inference. What it sustains is the HTTP limit of
 * this machine, the floor under every other peer's host path. Same GET /stats and IPC as the others.
 */
import { Hono } from 'hono';
import { PeerStats, servePeer, statsRoute } from './peer-http.ts';

const stats = new PeerStats();
const app = new Hono();
statsRoute(app, stats);
app.post('/functions/:name', async (c) => {
  stats.inflight++;
  try {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch (err) {
      return c.json({ error: { code: 'bad_json', message: (err as Error).message } }, 400);
    }
    return c.json({ ok: true, n: body !== null && typeof body === 'object' ? Object.keys(body).length : 0 });
  } finally {
    stats.inflight--;
  }
});
await servePeer(app, stats);
