/**
 * The CLI's usage, run as users run it: every command answers --help with its own options, bad usage
 * exits 2 with what was expected, and `plan` takes --json like every command that prints.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';

const commands = ['start', 'dev', 'deploy', 'delete', 'rollback', 'versions', 'invoke', 'list', 'plan'];

test('every command answers --help with its own usage, exit 0', async () => {
  const results = await Promise.all(commands.map((c) => runCli([c, '--help'])));
  results.forEach((r, i) => {
    assert.equal(r.code, 0, `${commands[i]}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^edgebatch ${commands[i]}\\b`), commands[i]);
  });
  const top = await runCli(['--help']);
  assert.equal(top.code, 0);
  for (const c of commands) assert.match(top.stdout, new RegExp(`^  ${c} `, 'm'), `${c} in the command list`);
});

test("bad usage: exit 2 naming what was wrong and the command's usage", async () => {
  const unknown = await runCli(['list', '--frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^edgebatch list: Unknown option '--frobnicate'/);
  assert.match(unknown.stderr, /edgebatch list \[--url URL\]/);
  const missing = await runCli(['deploy']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^edgebatch deploy: takes one argument, got 0/);
  const command = await runCli(['lsit']);
  assert.equal(command.code, 2);
  assert.match(command.stderr, /unknown command "lsit"/);
});

test('plan --json prints the plan; its help says --slo-ms is the mean objective and points to the README', async () => {
  const r = await runCli(['plan', '--alpha-ms', '0.2', '--tau0-ms', '20', '--slo-ms', '50', '--rate', '750', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).feasible, true);
  const help = await runCli(['plan', '--help']);
  assert.match(help.stdout, /README\.md/);
  assert.doesNotMatch(help.stdout, /DESIGN\.md/);
  assert.match(help.stdout, /MEAN latency, not a\s+function's SLO/);
});

test("deploy of a file that does not compile: the compiler's file:line:column and line, exit 1", async () => {
  mkdirSync('test/tmp', { recursive: true });
  const dir = mkdtempSync(path.join('test/tmp', 'help-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'does-not-compile.ts');
  writeFileSync(file, "import { z } from 'zod';\nexport default { model: 'mlp',, };\n");
  // Port 9 (discard) is never reached: the bundle fails first.
  const r = await runCli(['deploy', file, '--url', 'http://127.0.0.1:9']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /does-not-compile\.ts:2:\d+:/);
  assert.match(r.stderr, /Expected/);
});
