import { parseArgs } from 'node:util';
import { loadConfig, serve } from '../serve.ts';

const usage = `edgebatch <command> [options]

Commands:
  start            serve functions/ for production (JSON logs, no watching)

Options:
  --config FILE    config file (default hono.config.ts)
  --port N         port (default from the config, or PORT)
  --host HOST      host (default from the config, or HOST)
`;

/** Runs one CLI command; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      return start(rest);
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(usage);
      return 0;
    default:
      process.stderr.write(`unknown command "${command}"\n\n${usage}`);
      return 2;
  }
}

async function start(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } } });
  const env = { ...process.env, ...(values.port ? { PORT: values.port } : {}), ...(values.host ? { HOST: values.host } : {}) };
  const serving = await serve(await loadConfig(values.config, {}, env));
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      serving.runtime.log.info({ signal }, 'stopping: answering what was accepted');
      void serving.stop().then(resolve);
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  return 0;
}
