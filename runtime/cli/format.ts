import type { InferResponseType } from 'hono/client';
import type { Client } from './client.ts';

/** What GET /functions/:name answers, as the server's route types it. */
type Described = InferResponseType<Client['functions'][':name']['$get'], 200>;
/** The load problems GET /functions lists. */
type Problem = InferResponseType<Client['functions']['$get'], 200>['problems'][number];

const num = (x: number | null | undefined, digits = 1) => (x === null || x === undefined ? '-' : x.toFixed(digits));

/** `edgebatch list` as an aligned table, with load problems underneath. */
export function formatList(fns: readonly Described[], problems: readonly Problem[]): string {
  const head = ['function', 'model', 'slo ms', 'status', 'version', 'rate/s', 'mean ms', 'p99 ms', 'in slo', 'bound ms', 'max rate/s'];
  const rows = fns.map((f) => [
    f.name,
    f.model,
    String(f.sloMs),
    f.status,
    f.version,
    num(f.live.ratePerSec),
    num(f.live.meanLatencyMs),
    num(f.live.p99LatencyMs),
    f.live.sloAttainment === null ? '-' : `${(100 * f.live.sloAttainment).toFixed(0)}%`,
    num(f.prediction?.meanLatencyBoundMs),
    num(f.prediction?.maxRatePerSec, 0),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  const out = [line(head), ...rows.map(line)];
  for (const f of fns) if (f.warning) out.push(`warning: ${f.name}: ${f.warning}`);
  for (const p of problems) out.push(`not loaded: ${p.file}: ${p.message}`);
  return out.join('\n');
}
