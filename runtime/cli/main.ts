import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { fromBuild } from '../build-mode.ts';
import { adminHeaders, clientFor, defaultUrl, nameParam, replyOf, targetFrom } from './client.ts';
import { formatList } from './format.ts';
import { plan, planUsage } from './plan.ts';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | undefined>;

/** One CLI command: its help, its options (parsed by node:util parseArgs) and what it does. */
interface Command {
  /** One line for the command list. */
  readonly summary: string;
  /** The command's own help, printed by `edgebatch <command> --help`. */
  readonly usage: string;
  readonly options: Options;
  /** How many positionals it takes (a function name, a file). */
  readonly positionals?: 1;
  run(values: Values, positionals: string[]): Promise<number>;
}

const url = { url: { type: 'string' } } as const;
const json = { json: { type: 'boolean' } } as const;
const urlHelp = `  --url URL   the runtime (default EDGEBATCH_URL or ${defaultUrl})\n  --json      machine-readable output`;
const serveHelp = `  --config FILE   config file (default hono.config.ts)
  --port N        port to listen on (default: the config's, or PORT)
  --host H        address to listen on (default: the config's, or HOST)`;

function print(values: Values, value: unknown, human: string): void {
  process.stdout.write(values.json ? `${JSON.stringify(value, null, 2)}\n` : `${human}\n`);
}

const commands: Record<string, Command> = {
  start: {
    summary: 'serve functions/ for production (JSON logs, no watching)',
    usage: `edgebatch start [--config FILE] [--port N] [--host H]\n\nServes the functions of the config's functionsDir until SIGTERM / SIGINT.\n\n${serveHelp}`,
    options: { config: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } },
    run: (v) => serveUntilSignal(v, false),
  },
  dev: {
    summary: 'serve functions/ and reload a handler file when it is saved',
    usage: `edgebatch dev [--config FILE] [--port N] [--host H]\n\nLike start, and a saved handler file is swapped in once it passes every check.\n\n${serveHelp}`,
    options: { config: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } },
    run: (v) => serveUntilSignal(v, true),
  },
  deploy: {
    summary: 'bundle a handler with its local imports and push it to a running runtime',
    usage: `edgebatch deploy <file> [--name N] [--url URL] [--json]\n\nBundles the file with its relative imports (packages stay imports) and uploads it; the runtime serves it\nonly if it passes every check. Token: EDGEBATCH_ADMIN_TOKEN.\n\n  --name N    function name (default: the file's base name)\n${urlHelp}`,
    options: { ...url, ...json, name: { type: 'string' } },
    positionals: 1,
    async run(v, [file]) {
      // esbuild (bundle.ts, and load.ts through its error formatting) is imported here only: loading it
      // costs every other command about 0.1 s at start.
      const [{ bundleFile }, { functionNameOf }] = await Promise.all([import('../functions/bundle.ts'), import('../functions/load.ts')]);
      const name = (v.name as string | undefined) ?? functionNameOf(file);
      const bundled = await bundleFile(file);
      if (!bundled.ok) throw new Error(`${file} does not compile:\n${bundled.message}`);
      const target = targetFrom(v);
      const res = await clientFor(target).admin.functions[':name'].$put(
        { param: nameParam(name) },
        { headers: { ...adminHeaders(target), 'content-type': 'text/javascript' }, init: { body: bundled.code } },
      );
      const b = await replyOf(res, target, true);
      print(v, b, `deployed ${b.name} version ${b.version}${b.previous ? ` (was ${b.previous})` : ''}`);
      return 0;
    },
  },
  delete: {
    summary: 'stop serving a deployed function (its versions stay for a rollback)',
    usage: `edgebatch delete <name> [--url URL] [--json]\n\nUndeploys a function. Token: EDGEBATCH_ADMIN_TOKEN.\n\n${urlHelp}`,
    options: { ...url, ...json },
    positionals: 1,
    async run(v, [name]) {
      const target = targetFrom(v);
      await replyOf(
        await clientFor(target).admin.functions[':name'].$delete({ param: nameParam(name) }, { headers: adminHeaders(target) }),
        target,
        true,
      );
      print(v, { name, deleted: true }, `${name} is no longer served`);
      return 0;
    },
  },
  rollback: {
    summary: 'serve the previous (or the given) deployed version again',
    usage: `edgebatch rollback <name> [--version V] [--url URL] [--json]\n\n  --version V   a deployed version (default: the one served before the current one)\n${urlHelp}`,
    options: { ...url, ...json, version: { type: 'string' } },
    positionals: 1,
    async run(v, [name]) {
      const target = targetFrom(v);
      const body = v.version ? JSON.stringify({ version: v.version }) : '';
      const res = await clientFor(target).admin.functions[':name'].rollback.$post(
        { param: nameParam(name) },
        { headers: { ...adminHeaders(target), 'content-type': 'application/json' }, init: { body } },
      );
      const b = await replyOf(res, target, true);
      print(v, b, `${b.name} now serves version ${b.version}${b.previous ? ` (was ${b.previous})` : ''}`);
      return 0;
    },
  },
  versions: {
    summary: 'deployed versions of a function (* = current)',
    usage: `edgebatch versions <name> [--url URL] [--json]\n\n${urlHelp}`,
    options: { ...url, ...json },
    positionals: 1,
    async run(v, [name]) {
      const target = targetFrom(v);
      const b = await replyOf(
        await clientFor(target).admin.functions[':name'].versions.$get({ param: nameParam(name) }, { headers: adminHeaders(target) }),
        target,
        true,
      );
      print(
        v,
        b,
        b.versions.map((x) => `${x.version === b.current ? '*' : ' '} ${x.version}  ${x.deployedAt}`).join('\n') || 'no deployed versions',
      );
      return 0;
    },
  },
  invoke: {
    summary: 'call a function and print its answer',
    usage: `edgebatch invoke <name> [--data JSON] [--url URL] [--json]\n\n  --data JSON   the request body (default: the function's example)\n${urlHelp}`,
    options: { ...url, ...json, data: { type: 'string' } },
    positionals: 1,
    async run(v, [name]) {
      const target = targetFrom(v);
      const fn = clientFor(target).functions[':name'];
      let data = v.data as string | undefined;
      if (data === undefined) data = JSON.stringify((await replyOf(await fn.$get({ param: nameParam(name) }), target)).example);
      const res = await fn.$post({ param: nameParam(name) }, { headers: { 'content-type': 'application/json' }, init: { body: data } });
      const result = await replyOf(res, target);
      const meta = { batchSize: Number(res.headers.get('x-batch-size')), serverTiming: res.headers.get('server-timing') };
      print(v, { result, ...meta }, `${JSON.stringify(result, null, 2)}\n(batch of ${meta.batchSize}; ${meta.serverTiming})`);
      return 0;
    },
  },
  list: {
    summary: 'functions, SLOs, origin and live figures',
    usage: `edgebatch list [--url URL] [--json]\n\n${urlHelp}`,
    options: { ...url, ...json },
    async run(v) {
      const target = targetFrom(v);
      const client = clientFor(target);
      const { functions, problems } = await replyOf(await client.functions.$get(), target);
      const details = await Promise.all(
        functions.map(async (f) => replyOf(await client.functions[':name'].$get({ param: { name: f.name } }), target)),
      );
      print(v, { functions: details, problems }, formatList(details, problems));
      return 0;
    },
  },
  plan: {
    summary: 'size a deployment from the queueing formula (prints JSON)',
    usage: planUsage,
    // plan parses its own flags (it validates numbers); `--json` is accepted there, its output is JSON.
    options: {},
    run: async (_v, args) => plan(args),
  },
};

const usage = `edgebatch <command> [options]      (edgebatch <command> --help for a command's options)
       edgebatch --version                 the version, and whether it runs from the build (dist/) or the sources

Commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join('\n')}
`;

/** Runs one CLI command; returns the exit code (0 done, 1 failed, 2 bad usage). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const topic = name === 'help' && rest[0] ? commands[rest[0]] : undefined;
    process.stdout.write(topic ? `${topic.usage}\n` : usage);
    return 0;
  }
  if (name === '--version' || name === '-v') {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`edgebatch ${version} (${fromBuild ? 'built: dist/' : 'sources through tsx'})\n`);
    return 0;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) {
    process.stderr.write(`edgebatch: unknown command "${name}"\n\n${usage}`);
    return 2;
  }
  if (name === 'plan') return command.run({}, rest);
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
    }));
    if (values.help) {
      process.stdout.write(`${command.usage}\n`);
      return 0;
    }
    const wanted = command.positionals ?? 0;
    if (positionals.length !== wanted) {
      throw new TypeError(
        wanted === 0
          ? `takes no arguments, got ${JSON.stringify(positionals)}`
          : `takes ${wanted === 1 ? 'one argument' : `${wanted} arguments`}, got ${positionals.length}`,
      );
    }
  } catch (err) {
    process.stderr.write(`edgebatch ${name}: ${(err as Error).message}\n\n${command.usage}\n`);
    return 2;
  }
  try {
    return await command.run(values, positionals);
  } catch (err) {
    process.stderr.write(`edgebatch ${name}: ${(err as Error).message}\n`);
    return 1;
  }
}

/** `start` and `dev`: the runtime is imported only here, so the client commands start without it. */
async function serveUntilSignal(values: Values, dev: boolean): Promise<number> {
  const { loadConfig, serve } = await import('../serve.ts');
  const { watchFunctions } = await import('../functions/watch.ts');
  const port = values.port as string | undefined;
  const host = values.host as string | undefined;
  // dev: an access line per call, and readable lines on a terminal (JSON when piped), unless the environment says.
  const devLogs = dev ? { EDGEBATCH_ACCESS_LOG: 'info', EDGEBATCH_LOG_PRETTY: process.stdout.isTTY ? '1' : '0' } : {};
  const env = { ...devLogs, ...process.env, ...(port ? { PORT: port } : {}), ...(host ? { HOST: host } : {}) };
  const serving = await serve(await loadConfig(values.config as string | undefined, {}, env));
  const stopWatching = dev ? await watchFunctions(serving.runtime, serving.runtime.config.functionsDir) : undefined;
  // Saves before this line are not seen: say when they are.
  if (dev) serving.runtime.log.info({ dir: serving.runtime.config.functionsDir }, 'watching for saved handler files');
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      serving.runtime.log.info({ signal }, 'stopping: answering what was accepted');
      void Promise.all([stopWatching?.(), serving.stop()]).then(() => resolve());
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  // The runtime has stopped; a timer or socket a handler left open must not keep the process alive.
  setTimeout(() => process.exit(0), 500).unref();
  return 0;
}
