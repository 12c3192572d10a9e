// Review 7: a charge whose rated `amount` is more than the prepaid balance and whose pricePerUnit is
// 0 (a rater that prices per event and sends only the amount, or a tiered average that rounds to 0
// at 10 places) is cut to what the balance pays for: decideCharge (domain/charging.ts) divides the
// room by the price, 0, and grants Infinity units. The ChargeResult published to usage and
// invoicing then says `units: "Infinity"` (PARTIAL, 5.00 taken) for a charge of 10 units: it must be
// a finite PARTIAL (the units 5.00 of 20.00 pays for: 2.5) or DENIED, or a coded refusal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import type { ChargeRequest } from '@ledgerline/contracts';
import { applyChargesIn } from '../src/application/apply-charges';
import { T0, balanceOf, charge, dbOf, expectInvariants, openPrepaid, startWallets } from './support';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
}, 60_000);
afterAll(async () => {
  await svc?.close();
});

describe('a rated amount with a zero price per unit', () => {
  it('beyond the balance: answered with a coded outcome, the balance never below zero', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '5.00' });
    // The consumer's path (usage sends the rated amount on the JetStream ChargeRequest; GraphQL applyCharge has no amount field).
    let outcome: { result?: { outcome: string; units: string; amountCharged: string }; error?: string };
    try {
      const [r] = await dbOf(svc).tx((sql) => applyChargesIn(sql, [charge(billingAccountId, { units: '10', pricePerUnit: '0', amount: '20.00' }) as unknown as ChargeRequest], T0));
      outcome = { result: r as never };
    } catch (error) {
      outcome = { error: String(error) };
    }
    const seen = { ...outcome, balance: await balanceOf(svc, walletId) };
    expect(seen.error, JSON.stringify(seen)).toBeUndefined();
    expect(['PARTIAL', 'DENIED'], JSON.stringify(seen)).toContain(seen.result?.outcome);
    expect(Number.isFinite(Number(seen.result?.units)), JSON.stringify(seen)).toBe(true);
    expect(Number(seen.balance), JSON.stringify(seen)).toBeGreaterThanOrEqual(0);
    await expectInvariants(svc);
  }, 60_000);
});
