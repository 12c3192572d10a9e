/**
 * Invoicing's bulk outbox write (`enqueueEvents`) keeps a replayed event once but refuses a
 * different event that got the same id (approvalDecided and approvalExpired share a CloudEvents
 * type, so the same key gives both one id): EVENT_ID_COLLISION, and the transaction rolls back.
 * It used to keep the first and drop the second without a trace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueEvents } from '../src/application/sql';
import { startHarness, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-11-28T12:00:00Z');
});
afterAll(async () => {
  await h?.svc.close();
});

const T = new Date('2026-11-28T12:00:00Z');
const run = Math.random().toString(36).slice(2, 8);

describe('invoicing outbox event ids', () => {
  it('a replay is kept once; another event with the same id is refused with its transaction', async () => {
    const em = h.svc.runtime.orm.em.fork();
    const conn = em.getConnection();
    const key = [`apr_${run}`, 'state'];
    const subjects = async () => (await conn.execute<{ subject: string; id: string }[]>(`select id, subject from outbox where payload like ?`, [`%apr_${run}%`])).map((r) => r.subject);
    await em.transactional((tx) => enqueueEvents(tx, 'approvalDecided', T, [{ subject: `approval:apr_${run}`, key, data: { id: `apr_${run}` } }]));
    await em.transactional((tx) => enqueueEvents(tx, 'approvalDecided', T, [{ subject: `approval:apr_${run}`, key, data: { id: `apr_${run}` } }]));
    expect(await subjects()).toEqual(['billing.invoicing.approvalrequest.decided']);

    const marker = `apr_${run}_marker`;
    const error = await em
      .transactional(async (tx) => {
        await enqueueEvents(tx, 'approvalDecided', T, [{ subject: `approval:${marker}`, key: [marker], data: { id: marker } }]);
        await enqueueEvents(tx, 'approvalExpired', T, [{ subject: `approval:apr_${run}`, key, data: { id: `apr_${run}` } }]);
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EVENT_ID_COLLISION', details: { subject: 'billing.invoicing.approvalrequest.expired', takenBy: 'billing.invoicing.approvalrequest.decided' } });
    expect(await subjects()).toEqual(['billing.invoicing.approvalrequest.decided']);
  });
});
