#!/usr/bin/env node
// The `streamgate` command. In a checkout (npm ci installs tsx) it runs the TypeScript sources
// through tsx, so it never lags behind them; an install without tsx runs the build in dist/.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
const built = new URL('../dist/cli/main.js', import.meta.url);

async function loadTsx() {
  try {
    return await import('tsx/esm/api');
  } catch {
    return undefined;
  }
}

const tsx = existsSync(source) ? await loadTsx() : undefined;
if (tsx) {
  tsx.register();
  await import(source.href);
} else if (existsSync(built)) {
  await import(built.href);
} else {
  process.stderr.write('error: streamgate is not built: run `npm run build` (or install tsx)\n');
  process.exit(1);
}
