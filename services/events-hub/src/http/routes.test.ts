// review32: what the hub's routes answer of an INTERNAL domain error (a dependency down): its message, which names the
// service only, with a reference; its cause (an address) only in the log line with that reference. Was answered
// unlogged, without a reference.
import { describe, expect, it, vi } from 'vitest';
import { dependencyUnavailable } from '@ledgerline/contracts';
import { createLogger, signToken } from '@ledgerline/platform';
import type { HubDeps } from '../application/deps';
import type { StreamReader } from '../application/replay-events';
import { HUB_PATH } from '../application/hubs';
import { hubRoutes } from './routes';

describe('hub routes: an INTERNAL domain error', () => {
  it('keeps its message, gets a reference, its cause only in the log', async () => {
    const logger = createLogger('events-hub', 'silent');
    const logged = vi.spyOn(logger, 'error');
    const down = dependencyUnavailable('EVENT_STREAM_UNAVAILABLE', 'the event stream is unavailable; try again later', 'nats://10.0.0.7:4222', new Error('connection refused'));
    // The first thing listing hubs asks for is the time: here it fails as a dependency would.
    const deps = { clock: { now: () => { throw down; } } } as unknown as HubDeps;
    const route = hubRoutes(deps, (async () => []) as unknown as StreamReader, 'ledgerline-development-jwt-secret-change-me', logger);
    const token = await signToken({ role: 'PARTNER', partnerId: 'p1' });
    const reply = await route({ headers: { authorization: `Bearer ${token}` }, method: 'GET' } as never, new URL(`http://hub${HUB_PATH}`));
    const body = reply?.body as Record<string, unknown>;
    expect(reply?.status).toBe(500);
    expect(body.reference).toMatch(/^[0-9a-f-]{36}$/);
    expect(body).toEqual({ '@type': 'Error', code: 'EVENT_STREAM_UNAVAILABLE', reason: 'INTERNAL', message: 'the event stream is unavailable; try again later', status: '500', reference: body.reference });
    expect(JSON.stringify(body)).not.toContain('10.0.0.7');
    const fields = logged.mock.calls.map((args: unknown[]) => args[0] as { reference?: string; err?: Error & { cause?: Error } }).find((f) => f.reference === body.reference);
    expect(fields?.err?.cause?.message).toContain('10.0.0.7');
  });
});
