// Writes dist/workflow-bundle.js so the worker starts without bundling (the cached `build`
// target). Run: npx tsx workflows/src/bundle.ts
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowsPath } from './worker';

export const bundlePath = fileURLToPath(new URL('../dist/workflow-bundle.js', import.meta.url));

async function main(): Promise<void> {
  const { code } = await bundleWorkflowCode({ workflowsPath });
  await mkdir(fileURLToPath(new URL('../dist/', import.meta.url)), { recursive: true });
  await writeFile(bundlePath, code);
  process.stdout.write(`wrote ${bundlePath} (${(code.length / 1024).toFixed(0)} KiB)\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  });
}
