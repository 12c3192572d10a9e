/**
 * Usage ingestion and rating read one quantity precision: `MAX_QUANTITY_DECIMALS` from
 * @ledgerline/rating (what `assertValidEvent` refuses above, what usage stores as NUMERIC(20, 6)).
 * Usage had its own `\.\d{1,6}` rule, which would have kept accepting 6 decimals had rating's
 * limit moved. The constant is replaced here by 3 to see that usage follows it; the error code
 * (QUANTITY_INVALID) stays.
 */
import { describe, expect, it, vi } from 'vitest';

vi.mock('@ledgerline/rating', async (original) => ({ ...(await original<typeof import('@ledgerline/rating')>()), MAX_QUANTITY_DECIMALS: 3 }));

const { validateUsage } = await import('./usage-input');

const record = (quantity: string) => ({ eventId: 'e1', lineId: 'lin_1', usageType: 'DATA', quantity, occurredAt: '2026-03-20T11:00:00Z' });
const now = new Date('2026-03-21T00:00:00Z');

describe('usage quantity decimals: rating MAX_QUANTITY_DECIMALS', () => {
  it('accepts up to MAX_QUANTITY_DECIMALS decimals and names the limit when refusing more', () => {
    expect(validateUsage(record('12.125'), { source: 'api' }, now)).toMatchObject({ ok: true, usage: { quantity: '12.125' } });
    const refused = validateUsage(record('12.1255'), { source: 'api' }, now);
    expect(refused).toMatchObject({ ok: false, rejection: { code: 'QUANTITY_INVALID', reason: expect.stringContaining('at most 3 decimals') } });
    expect(validateUsage(record('12.'), { source: 'api' }, now)).toMatchObject({ ok: false, rejection: { code: 'QUANTITY_INVALID' } });
  });
});
