/**
 * The CLI run as users run it (services/cli/bin/ledgerline.mjs: node with tsx's loader), for the
 * tests that check the process itself (its exit code, stdout, stderr). Each run takes ~0.5 s, most
 * of it tsx and the imports starting, so runs that do not depend on one another are started
 * together, at most CLI_RUNS_AT_ONCE at a time (a few more than the cores CI has would only queue).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

export const repoRoot = path.resolve(import.meta.dirname, '..', '..', '..');

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

const CLI_RUNS_AT_ONCE = 4;
let running = 0;
const waiting: (() => void)[] = [];

async function slot(): Promise<() => void> {
  if (running >= CLI_RUNS_AT_ONCE) await new Promise<void>((resolve) => waiting.push(resolve));
  else running += 1;
  // A finished run hands its slot to the next waiting one (running stays the same) or frees it.
  return () => {
    const next = waiting.shift();
    if (next) next();
    else running -= 1;
  };
}

/** `ledgerline <args>` with `env` as its whole environment; queued while CLI_RUNS_AT_ONCE runs are going. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  const release = await slot();
  try {
    return await new Promise<CliRun>((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(repoRoot, 'services/cli/bin/ledgerline.mjs'), ...args], { cwd: repoRoot, env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
  } finally {
    release();
  }
}
