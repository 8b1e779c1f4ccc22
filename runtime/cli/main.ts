import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { functionNameOf } from '../functions/load.ts';
import { watchFunctions } from '../functions/watch.ts';
import { loadConfig, serve } from '../serve.ts';
import { request, targetFrom } from './client.ts';
import { formatList } from './format.ts';
import { plan } from './plan.ts';

const usage = `edgebatch <command> [options]

Commands:
  start                      serve functions/ for production (JSON logs, no watching)
  dev                        serve functions/ and reload a handler file when it is saved
  deploy <file> [--name N]   push a handler to a running runtime (token: EDGEBATCH_ADMIN_TOKEN)
  rollback <name> [--version V]   serve the previous (or the given) deployed version again
  versions <name>            deployed versions of a function
  invoke <name> --data JSON  call a function and print its answer
  list                       functions, SLOs and live figures
  plan --alpha-ms A --tau0-ms T --slo-ms S [--rate R]   capacity planning from the queueing formula

Options:
  --config FILE   config file for start/dev (default hono.config.ts)
  --port N, --host H   where start/dev listen (default: the config, or PORT / HOST)
  --url URL       runtime for deploy/rollback/versions/invoke/list (default EDGEBATCH_URL or http://127.0.0.1:8787)
  --json          machine-readable output
`;

/** Runs one CLI command; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'start':
        return await run(rest, false);
      case 'dev':
        return await run(rest, true);
      case 'deploy':
        return await deploy(rest);
      case 'rollback':
        return await rollback(rest);
      case 'versions':
        return await versions(rest);
      case 'invoke':
        return await invoke(rest);
      case 'list':
        return await list(rest);
      case 'plan':
        return plan(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(usage);
        return 0;
      default:
        process.stderr.write(`unknown command "${command}"\n\n${usage}`);
        return 2;
    }
  } catch (err) {
    process.stderr.write(`edgebatch ${command}: ${(err as Error).message}\n`);
    return 1;
  }
}

async function run(argv: string[], dev: boolean): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } } });
  const env = { ...process.env, ...(values.port ? { PORT: values.port } : {}), ...(values.host ? { HOST: values.host } : {}) };
  const serving = await serve(await loadConfig(values.config, {}, env));
  const stopWatching = dev ? await watchFunctions(serving.runtime, serving.runtime.config.functionsDir) : undefined;
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      serving.runtime.log.info({ signal }, 'stopping: answering what was accepted');
      void Promise.all([stopWatching?.(), serving.stop()]).then(() => resolve());
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  return 0;
}

function print(json: boolean, value: unknown, human: string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human}\n`);
}

async function deploy(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { url: { type: 'string' }, name: { type: 'string' }, json: { type: 'boolean' } } });
  const file = positionals[0];
  if (!file) throw new Error('which file? edgebatch deploy functions/foo.ts --url http://host:port');
  const name = values.name ?? functionNameOf(file);
  const source = await readFile(file, 'utf8');
  const r = await request(targetFrom(values), 'PUT', `/admin/functions/${encodeURIComponent(name)}`, source, 'text/plain');
  const b = r.body as { name: string; version: string; previous: string | null };
  print(!!values.json, b, `deployed ${b.name} version ${b.version}${b.previous ? ` (was ${b.previous})` : ''}`);
  return 0;
}

async function rollback(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { url: { type: 'string' }, version: { type: 'string' }, json: { type: 'boolean' } } });
  const name = positionals[0];
  if (!name) throw new Error('which function? edgebatch rollback foo');
  const body = values.version ? JSON.stringify({ version: values.version }) : '';
  const r = await request(targetFrom(values), 'POST', `/admin/functions/${encodeURIComponent(name)}/rollback`, body);
  const b = r.body as { name: string; version: string; previous: string | null };
  print(!!values.json, b, `${b.name} now serves version ${b.version}${b.previous ? ` (was ${b.previous})` : ''}`);
  return 0;
}

async function versions(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { url: { type: 'string' }, json: { type: 'boolean' } } });
  const name = positionals[0];
  if (!name) throw new Error('which function? edgebatch versions foo');
  const r = await request(targetFrom(values), 'GET', `/admin/functions/${encodeURIComponent(name)}/versions`);
  const b = r.body as { current: string | null; versions: { version: string; deployedAt: string }[] };
  print(!!values.json, b, b.versions.map((v) => `${v.version === b.current ? '*' : ' '} ${v.version}  ${v.deployedAt}`).join('\n') || 'no deployed versions');
  return 0;
}

async function invoke(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { url: { type: 'string' }, data: { type: 'string' }, json: { type: 'boolean' } } });
  const name = positionals[0];
  if (!name) throw new Error('which function? edgebatch invoke foo --data \'{...}\'');
  const target = targetFrom(values);
  let data = values.data;
  if (data === undefined) {
    const d = (await request(target, 'GET', `/functions/${encodeURIComponent(name)}`)).body as { example: unknown };
    data = JSON.stringify(d.example);
  }
  const r = await request(target, 'POST', `/functions/${encodeURIComponent(name)}`, data);
  const meta = { batchSize: Number(r.headers.get('x-batch-size')), serverTiming: r.headers.get('server-timing') };
  print(!!values.json, { result: r.body, ...meta }, `${JSON.stringify(r.body, null, 2)}\n(batch of ${meta.batchSize}; ${meta.serverTiming})`);
  return 0;
}

async function list(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { url: { type: 'string' }, json: { type: 'boolean' } } });
  const target = targetFrom(values);
  const { functions, problems } = (await request(target, 'GET', '/functions')).body as { functions: { name: string }[]; problems: unknown[] };
  const details = await Promise.all(functions.map(async (f) => (await request(target, 'GET', `/functions/${encodeURIComponent(f.name)}`)).body));
  print(!!values.json, { functions: details, problems }, formatList(details as never, problems as never));
  return 0;
}
