// comparePlans on a billing account while the usage service cannot be reached: the client is told which service,
// not where it runs. The catalog's usage adapter put USAGE_URL into USAGE_UNAVAILABLE's message ("The usage service
// at http://<host>:<port>/graphql did not answer") and the platform's error formatter passes a DomainError's message
// through, so any customer (through the gateway too) learnt an internal address. The address and the cause go to
// the catalog's log.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, refusedPort, startServiceForTest, type TestService } from '@ledgerline/platform';
import { catalogService } from '../src/service';

describe('comparePlans while the usage service cannot be reached', () => {
  let svc: TestService;
  let port: number;
  const lines: string[] = [];

  beforeAll(async () => {
    port = await refusedPort();
    process.env.USAGE_URL = `http://127.0.0.1:${port}/graphql`;
    svc = await startServiceForTest(catalogService, {
      clock: new ManualClock(new Date('2026-03-15T09:00:00Z')),
      logger: pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) }),
    });
  });
  afterAll(async () => {
    delete process.env.USAGE_URL;
    await svc?.close();
  });

  it("tells the customer the usage service is unavailable, not its address; the address and cause are logged", async () => {
    const customer = { role: 'CUSTOMER' as const, subject: 'cus_1', customerId: 'cus_1', scopes: [] };
    const r = await svc.request(
      'query($i: ComparePlansInput!) { comparePlans(input: $i) { planCode total } }',
      { i: { planCodes: ['POSTPAID_20GB'], billingAccountId: 'acc_1', period: '2026-03' } },
      customer,
    );
    expect(r.errors?.[0]).toMatchObject({ message: 'The usage service did not answer; try again later', extensions: { code: 'INTERNAL', reason: 'USAGE_UNAVAILABLE' } });
    const text = JSON.stringify(r);
    expect(text, 'the answer names the internal address').not.toContain(String(port));
    expect(text).not.toContain('127.0.0.1');
    const logged = lines.map((l) => JSON.parse(l) as Record<string, any>).filter((l) => l.err?.code === 'USAGE_UNAVAILABLE');
    expect(logged).toHaveLength(1);
    expect(logged[0]!.err.message).toContain(`http://127.0.0.1:${port}/graphql`);
  });
});
