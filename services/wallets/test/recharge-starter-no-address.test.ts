import { describe, expect, it } from 'vitest';
import { DomainError } from '@ledgerline/contracts';
import { refusedPort } from '@ledgerline/platform';
import { TemporalRechargeStarter } from '../src/adapters/recharge-starter';

/**
 * A card recharge while Temporal cannot be reached: RECHARGE_UNAVAILABLE named Temporal's address ("cannot reach
 * Temporal at <host>:<port> (…)") in its message, which is what a GraphQL caller is answered. Now it names the
 * workflow service only; the address and the cause are the error's cause (logged by the error formatter).
 */
describe('TemporalRechargeStarter with Temporal away', () => {
  it('answers RECHARGE_UNAVAILABLE without the address; the cause names it', async () => {
    // A port no listen(0) can be given (a closed server's port can be handed out again while the test runs).
    const address = `127.0.0.1:${await refusedPort()}`;
    const starter = new TemporalRechargeStarter(address);
    const e = await starter.start({ rechargeId: 'r1', billingAccountId: 'acc_1', amount: '10.00', currency: 'EUR', paymentMethodToken: 'tok', channel: 'API' }).then(() => null, (err: unknown) => err);
    await starter.close();
    expect(e).toBeInstanceOf(DomainError);
    expect(e).toMatchObject({ code: 'RECHARGE_UNAVAILABLE', category: 'INTERNAL', details: { field: 'input.method' } });
    expect((e as DomainError).message, 'the answer names the address').not.toContain(address);
    expect(String(((e as DomainError).cause as Error | undefined)?.message)).toContain(address);
  }, 15_000);
});
