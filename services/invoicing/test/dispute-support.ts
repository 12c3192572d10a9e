// Shared set-up of the dispute tests: callers, the dispute mutations, calls as a caller, outbox and
// account-credit readers, fake workflow starters and the one issued September invoice most files use.
// The harness itself is support.ts's; each file keeps its own `h` and passes `() => h`.
import type { Caller } from '@ledgerline/contracts';
import type { DunningStarter } from '../src/ports/dunning';
import type { DisputeStarter } from '../src/ports/disputes';
import { account, subscribe, type Harness } from './support';

export const customer = (customerId: string): Caller => ({ role: 'CUSTOMER', subject: customerId, customerId, scopes: [] });
export const agent = (subject: string): Caller => ({ role: 'AGENT', subject, scopes: [] });
export const SYSTEM: Caller = { role: 'SYSTEM', subject: 'worker', scopes: [] };

/** openDispute, decideDispute, assessDispute and withdrawDispute, each answering the dispute's `fields`. */
export function disputeMutations(fields: string): { OPEN: string; DECIDE: string; ASSESS: string; WITHDRAW: string } {
  return {
    OPEN: `mutation($i: OpenDisputeInput!) { openDispute(input: $i) { dispute { ${fields} } } }`,
    DECIDE: `mutation($i: DecideDisputeInput!) { decideDispute(input: $i) { dispute { ${fields} } } }`,
    ASSESS: `mutation($i: AssessDisputeInput!) { assessDispute(input: $i) { dispute { ${fields} } } }`,
    WITHDRAW: `mutation($i: WithdrawDisputeInput!) { withdrawDispute(input: $i) { dispute { ${fields} } } }`,
  };
}

/** A dispute workflow starter that does nothing. */
export const NO_DISPUTE_WORKFLOW: DisputeStarter = { start: async () => undefined, poke: async () => undefined };
/** A dunning starter that does nothing. */
export const NO_DUNNING: DunningStarter = { start: async () => undefined, poke: async () => undefined };

/** A dunning starter that records its pokes as [invoiceId, what]. */
export function recordingDunning(): { dunning: DunningStarter; dunningPokes: [string, string][] } {
  const dunningPokes: [string, string][] = [];
  return { dunningPokes, dunning: { start: async () => undefined, poke: async (invoiceId, what) => void dunningPokes.push([invoiceId, what]) } };
}

/** Calls against the file's harness (read when called, so after its `beforeAll`). */
export function disputeCalls(harness: () => Harness) {
  const db = () => harness().svc.runtime.orm.em.fork().getConnection();
  return {
    /** The query as `caller`; its data, or a thrown error naming the first GraphQL error. */
    async as<T = any>(caller: Caller, query: string, variables: Record<string, unknown>): Promise<T> {
      const r = await harness().svc.request<T>(query, variables, caller);
      if (r.errors?.length) throw new Error(`${r.errors[0]!.message} ${JSON.stringify(r.errors[0]!.extensions)}`);
      return r.data!;
    },
    /** The query as `caller`, expected to be refused: the first error's code, reason and field. */
    async refusal(caller: Caller, query: string, variables: Record<string, unknown>): Promise<{ code: string; reason: string; field?: string }> {
      const r = await harness().svc.request(query, variables, caller);
      if (!r.errors?.length) throw new Error(`expected an error, got ${JSON.stringify(r.data)}`);
      const ext = r.errors[0]!.extensions ?? {};
      return { code: String(ext.code), reason: String(ext.reason), field: ext.field as string | undefined };
    },
    db,
    /** The payloads of the outbox rows of `subject`. */
    outbox: async (subject: string) => (await db().execute(`select payload from outbox where subject = ?`, [subject])).map((r: any) => (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload)),
    /** The account's credit (amount). */
    credit: async (acc: string) => (await harness().gql<any>(`query { _entities(representations: [{ __typename: "BillingAccount", id: "${acc}" }]) { ... on BillingAccount { accountCredit { amount } } } }`))._entities[0].accountCredit.amount,
  };
}

/** A late payment fee of 7.50 EUR on the account, as dunning adds it (one-off LATE_FEE, 2026-09-15). */
export async function lateFee(h: Harness, acc: string): Promise<void> {
  await h.gql('mutation($i: AddOneOffChargeInput!) { addOneOffCharge(input: $i) { ok } }', {
    i: { id: `dunning-inv_${acc}:late-fee`, billingAccountId: acc, code: 'LATE_FEE', description: 'Late payment fee', amount: { amount: '7.50', currency: 'EUR' }, occurredAt: '2026-09-15T10:00:00Z' },
  });
}

/**
 * An account of customer `cus` on POSTPAID_20GB since 2026-08-01 with its September period closed:
 * the invoice's id and state. `beforeClose` adds charges to the account before the period is closed.
 */
export async function closedSeptember(h: Harness, acc: string, cus: string, beforeClose?: () => Promise<unknown>): Promise<{ id: string; state: string }> {
  await account(h, acc, { customerId: cus });
  await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
  await beforeClose?.();
  const r = await h.gql<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id state } } } }', {
    i: { billingAccountId: acc, periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' },
  });
  return r.closeBillingPeriod.billingPeriod.invoice;
}
