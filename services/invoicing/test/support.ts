import fs from 'node:fs';
import type { ApprovalLimits } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type Logger, type TestService } from '@ledgerline/platform';
import { SandboxPaymentProvider } from '../src/adapters/payment-provider';
import { createInvoicingService } from '../src/service';
import type { DunningPolicy, DunningStarter } from '../src/ports/dunning';
import type { AutopayTokens } from '../src/ports/autopay-tokens';
import type { DisputeStarter } from '../src/ports/disputes';

const plan = (file: string) => JSON.parse(fs.readFileSync(new URL(`../../../catalog/plans/${file}.json`, import.meta.url), 'utf8'));

export const PLANS = {
  postpaid20: { id: 'plv_postpaid20_v1', document: plan('postpaid-20gb') },
  postpaid50: { id: 'plv_postpaid50_v1', document: { ...plan('postpaid-20gb'), code: 'POSTPAID_50GB', name: 'Postpaid 50 GB', recurringFee: { amount: '45.00', period: 'MONTH', proration: 'DAILY' } } },
  family: { id: 'plv_family_v1', document: plan('family-share-50gb') },
};

export interface Harness {
  svc: TestService;
  clock: ManualClock;
  payments: SandboxPaymentProvider;
  gql<T = any>(query: string, variables?: Record<string, unknown>): Promise<T>;
  gqlError(query: string, variables?: Record<string, unknown>): Promise<{ code: string; reason: string; field?: string }>;
}

export async function startHarness(now: string, opts: { consume?: boolean; runBillRuns?: boolean; collections?: boolean; dunning?: DunningStarter; policy?: DunningPolicy; autopayTokens?: AutopayTokens; disputes?: DisputeStarter; approvalLimits?: ApprovalLimits; approvalDailyLimits?: ApprovalLimits; logger?: Logger } = {}): Promise<Harness> {
  const clock = new ManualClock(new Date(now));
  const payments = new SandboxPaymentProvider();
  const { dunning, policy, autopayTokens, disputes, approvalLimits, approvalDailyLimits, logger, ...rest } = opts;
  const svc = await startServiceForTest(createInvoicingService({ deps: { payments, catalog: null, dunning: dunning ?? null, autopayTokens: autopayTokens ?? null, disputes: disputes ?? null, ...(policy ? { policy } : {}), ...(approvalLimits ? { approvalLimits } : {}), ...(approvalDailyLimits ? { approvalDailyLimits } : {}) }, collections: false, ...rest }), { clock, ...(logger ? { logger } : {}) });
  const gql = async <T>(query: string, variables?: Record<string, unknown>): Promise<T> => {
    const r = await svc.request<T>(query, variables);
    if (r.errors?.length) throw new Error(`${r.errors[0]!.message} ${JSON.stringify(r.errors[0]!.extensions)}`);
    return r.data!;
  };
  const gqlError = async (query: string, variables?: Record<string, unknown>) => {
    const r = await svc.request(query, variables);
    if (!r.errors?.length) throw new Error(`expected an error, got ${JSON.stringify(r.data)}`);
    const ext = r.errors[0]!.extensions ?? {};
    return { code: String(ext.code), reason: String(ext.reason), field: ext.field as string | undefined };
  };
  for (const p of Object.values(PLANS)) await gql('mutation($i: RegisterPlanVersionInput!) { registerPlanVersion(input: $i) { ok } }', { i: p });
  return { svc, clock, payments, gql, gqlError };
}

export async function account(h: Harness, id: string, over: Record<string, unknown> = {}): Promise<void> {
  await h.gql('mutation($i: RegisterBillingAccountInput!) { registerBillingAccount(input: $i) { ok } }', {
    i: { billingAccountId: id, customerName: `Customer ${id}`, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, timezone: 'Europe/Berlin', ...over },
  });
}

export async function subscribe(h: Harness, accountId: string, sub: string, planKey: keyof typeof PLANS, startsAt: string, line = `lin_${sub}`): Promise<void> {
  const p = PLANS[planKey];
  await h.gql('mutation($i: RecordSubscriptionInput!) { recordSubscription(input: $i) { ok } }', {
    i: { subscriptionId: sub, lineId: line, msisdn: `+49151${sub.replace(/\D/g, '').padStart(7, '0')}`, billingAccountId: accountId, planCode: p.document.code, planVersionId: p.id, startsAt },
  });
}

export async function charges(h: Harness, items: Record<string, unknown>[]): Promise<void> {
  await h.gql('mutation($i: [RecordChargeInput!]!) { recordCharges(input: $i) { ok } }', { i: items });
}

export const INVOICE_FIELDS = `id number state paymentReference periodStart periodEnd total { amount currency } netTotal { amount } taxTotal { amount } amountDue { amount } amountPaid { amount }
  lines { id kind description usageType zone quantity unit netAmount { amount } taxAmount { amount } grossAmount { amount } creditedAmount { amount } }`;

export async function invoicesOf(h: Harness, accountId: string): Promise<any[]> {
  const d = await h.gql<any>(`query($a: ID) { invoices(billingAccountId: $a) { edges { node { ${INVOICE_FIELDS} } } } }`, { a: accountId });
  return d.invoices.edges.map((e: any) => e.node);
}

export async function waitFor<T>(probe: () => Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function runBillRun(h: Harness, cycleDate: string, extra: Record<string, unknown> = {}): Promise<any> {
  const d = await h.gql<any>('mutation($i: StartBillRunInput!) { startBillRun(input: $i) { started billRun { id state totalAccounts } } }', { i: { cycleDate, batchSize: 2, ...extra } });
  return waitFor(async () => {
    const r = await h.gql<any>('query($id: ID) { billRun(id: $id) { id state totalAccounts totalBatches batchesDone accountsDone invoicesCreated } }', { id: d.startBillRun.billRun.id });
    return r.billRun.state === 'COMPLETED' ? { ...r.billRun, started: d.startBillRun.started } : null;
  });
}
