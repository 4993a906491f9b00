#!/usr/bin/env node
// The `baton` command. Runs the compiled CLI (dist/cli/main.js) when the package is built
// (always so once installed from npm); in a checkout without a build, the TypeScript source
// (src/cli/main.ts) through tsx, with --conditions=baton-source so `import 'baton'` in an
// entry module resolves to the same source. BATON_CLI_SOURCE=1 forces the source (tests use
// it, so a stale dist/ never hides a change); BATON_CLI_SOURCE=0 forces dist.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const source = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const choice = process.env.BATON_CLI_SOURCE;
const useSource = choice === '1' || (choice !== '0' && !existsSync(compiled));

if (!useSource) {
  const { main } = await import(pathToFileURL(compiled).href);
  await main(process.argv);
} else if (process.execArgv.includes('--conditions=baton-source')) {
  // Started below with tsx loaded: run the source in this process.
  const { main } = await import(pathToFileURL(source).href);
  await main(process.argv);
} else {
  if (!existsSync(source)) {
    console.error('error: baton is not built (no dist/cli/main.js) and has no source here; run `npm run build`');
    process.exit(1);
  }
  let tsx;
  try {
    tsx = import.meta.resolve('tsx');
  } catch {
    console.error('error: running baton from source needs tsx (npm install --save-dev tsx), or build it: npm run build');
    process.exit(1);
  }
  const child = spawn(
    process.execPath,
    ['--conditions=baton-source', '--import', tsx, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    { stdio: 'inherit' },
  );
  const forward = (signal) => () => child.kill(signal);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, forward(signal));
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
}
