/**
 * Usage ingestion and rating read one quantity precision: `MAX_QUANTITY_DECIMALS` from
 * @ledgerline/rating (what `assertValidEvent` refuses above, what usage stores as NUMERIC(20, 6)).
 * Usage had its own `\.\d{1,6}` rule, which would have kept accepting 6 decimals had rating's
 * limit moved. Since 2026-11-30 usage has no rule of its own at all: validateUsage's field checks
 * are rating's `checkUsageFields` (which catalog's simulation applies too), so this test no longer
 * replaces the constant (a mock of the entry point cannot reach rating's own module); it checks
 * that usage refuses at rating's limit with rating's code and reason.
 */
import { describe, expect, it } from 'vitest';
import { checkUsageFields, MAX_QUANTITY_DECIMALS } from '@ledgerline/rating';
import { validateUsage } from './usage-input';

const record = (quantity: string) => ({ eventId: 'e1', lineId: 'lin_1', usageType: 'DATA', quantity, occurredAt: '2026-03-20T11:00:00Z' });
const now = new Date('2026-03-21T00:00:00Z');

describe('usage quantity decimals: rating MAX_QUANTITY_DECIMALS', () => {
  it('accepts up to MAX_QUANTITY_DECIMALS decimals and names the limit when refusing more', () => {
    const atLimit = `12.${'1'.repeat(MAX_QUANTITY_DECIMALS)}`;
    expect(validateUsage(record(atLimit), { source: 'api' }, now)).toMatchObject({ ok: true, usage: { quantity: atLimit } });
    const refused = validateUsage(record(`${atLimit}5`), { source: 'api' }, now);
    expect(refused).toMatchObject({ ok: false, rejection: { code: 'QUANTITY_INVALID', reason: expect.stringContaining(`at most ${MAX_QUANTITY_DECIMALS} decimals`) } });
    const rating = checkUsageFields(record(`${atLimit}5`), { now });
    expect(rating.ok ? undefined : { code: rating.rejection.code, reason: rating.rejection.reason }).toEqual(refused.ok ? undefined : refused.rejection);
    expect(validateUsage(record('12.'), { source: 'api' }, now)).toMatchObject({ ok: false, rejection: { code: 'QUANTITY_INVALID' } });
  });
});
