/**
 * Demo data for `npm start`: publishes the sample catalog and creates a few customers through the
 * gateway, the way a real client would: a postpaid family on a shared plan and a prepaid customer,
 * with some usage. Idempotent: running it again changes nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { signToken } from '../../gateway/src/auth';

let gatewayUrl = process.env.GATEWAY_URL ?? 'http://127.0.0.1:4000/graphql';
const root = path.resolve(import.meta.dirname, '..', '..');

async function call<T = any>(token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }) });
  const body = (await response.json()) as { data?: T; errors?: { message: string }[] };
  if (body.errors?.length) throw new Error(`${body.errors.map((e) => e.message).join('; ')}`);
  return body.data as T;
}

export interface DemoAccount {
  customerId: string;
  billingAccountId: string;
  lineIds: string[];
}

/** A postpaid family (three lines sharing FAMILY_SHARE_50GB) and a prepaid customer (PREPAID_BUNDLE_30D, topped up), both with some usage. */
export interface DemoData extends DemoAccount {
  prepaid: DemoAccount;
}

export interface SeedOptions {
  /** Default GATEWAY_URL, else http://127.0.0.1:4000/graphql. */
  gatewayUrl?: string;
  /** The family's three numbers (tests pass their own: read models are keyed by MSISDN). */
  familyMsisdns?: string[];
  prepaidMsisdn?: string;
  /** How long to wait for a line to reach usage before its demo usage is skipped (ms). */
  usageWaitMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(probe: () => Promise<T | null | undefined>, timeoutMs: number): Promise<T | null> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => null);
    if (value) return value;
    if (Date.now() > end) return null;
    await sleep(250);
  }
}

/** The account holding the first of `msisdns` (made by an earlier run; its lines in the order of `msisdns`), or a new one made by `create`. */
async function account(token: string, msisdns: string[], create: () => Promise<DemoAccount>): Promise<DemoAccount> {
  const existing = await call<{ lineByMsisdn: { billingAccount: { id: string; customer: { id: string } } } | null }>(
    token,
    'query($m: String!) { lineByMsisdn(msisdn: $m) { billingAccount { id customer { id } } } }',
    { m: msisdns[0] },
  );
  if (!existing.lineByMsisdn) return create();
  const { billingAccount } = await call<{ billingAccount: { lines: { id: string; msisdn: string }[] } }>(token, 'query($id: ID!) { billingAccount(id: $id) { lines { id msisdn } } }', { id: existing.lineByMsisdn.billingAccount.id });
  const order = (msisdn: string) => (msisdns.includes(msisdn) ? msisdns.indexOf(msisdn) : msisdns.length);
  const lines = [...billingAccount.lines].sort((a, b) => order(a.msisdn) - order(b.msisdn));
  return { customerId: existing.lineByMsisdn.billingAccount.customer.id, billingAccountId: existing.lineByMsisdn.billingAccount.id, lineIds: lines.map((l) => l.id) };
}

async function openAccount(token: string, customer: Record<string, unknown>, account: Record<string, unknown>): Promise<{ customerId: string; billingAccountId: string }> {
  const { createCustomer } = await call(token, 'mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }', { i: { kind: 'INDIVIDUAL', timezone: 'Europe/Berlin', ...customer } });
  const { openBillingAccount } = await call(token, 'mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }', {
    i: { customerId: createCustomer.customer.id, currency: 'EUR', billCycleDay: 1, ...account },
  });
  return { customerId: createCustomer.customer.id, billingAccountId: openBillingAccount.billingAccount.id };
}

async function addLines(token: string, billingAccountId: string, msisdns: string[], planCode: string): Promise<string[]> {
  const ids: string[] = [];
  for (const msisdn of msisdns) {
    const { addLine } = await call(token, 'mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }', { i: { billingAccountId, msisdn, planCode, idempotencyKey: `demo-line-${msisdn}` } });
    ids.push(addLine.line.id);
  }
  return ids;
}

/**
 * Some usage on each line once usage knows it (its allowances show), as a network would send it;
 * event ids are fixed, so a second run records nothing new. A line that does not reach usage in
 * time is skipped with a note on stderr (the system still starts).
 */
async function recordDemoUsage(token: string, lineId: string, msisdn: string, records: { usageType: string; quantity: string; calledNumber?: string }[], waitMs: number): Promise<void> {
  const known = await until(async () => {
    const d = await call<{ line: { usage: { allowances: unknown[] } } | null }>(token, 'query($id: ID!) { line(id: $id) { usage { allowances { allowanceId } } } }', { id: lineId });
    return d.line?.usage.allowances.length ? true : null;
  }, waitMs);
  if (!known) {
    process.stderr.write(`demo data: line ${msisdn} did not reach usage within ${waitMs} ms; no demo usage for it\n`);
    return;
  }
  const occurredAt = new Date().toISOString();
  await call(token, 'mutation($i: RecordUsageInput!) { recordUsage(input: $i) { results { status } } }', {
    i: { source: 'demo', records: records.map((r, i) => ({ eventId: `demo-${msisdn}-${i + 1}`, msisdn, occurredAt, ...r })) },
  });
}

export async function seed(options: SeedOptions = {}): Promise<DemoData> {
  if (options.gatewayUrl) gatewayUrl = options.gatewayUrl;
  const token = await signToken({ role: 'ADMIN', subject: 'seed' });
  const offerDir = path.join(root, 'catalog', 'offers');
  for (const file of fs.readdirSync(offerDir).filter((f) => f.endsWith('.json')).sort()) {
    const document = JSON.parse(fs.readFileSync(path.join(offerDir, file), 'utf8'));
    await call(token, 'mutation($input: ImportOfferInput!) { importOffer(input: $input) { offer { code } } }', { input: { document } });
  }
  const planDir = path.join(root, 'catalog', 'plans');
  const planFiles = fs.existsSync(planDir) ? fs.readdirSync(planDir).filter((f) => f.endsWith('.json')).sort() : [];
  for (const file of planFiles) {
    const document = JSON.parse(fs.readFileSync(path.join(planDir, file), 'utf8'));
    await call(token, 'mutation($input: ImportPlanInput!) { importPlan(input: $input) { created } }', { input: { document } });
  }

  const familyMsisdns = options.familyMsisdns ?? ['+4915111000001', '+4915111000002', '+4915111000003'];
  const prepaidMsisdn = options.prepaidMsisdn ?? '+4915111000004';
  const waitMs = options.usageWaitMs ?? 60_000;
  const family = await account(token, familyMsisdns, async () => {
    const opened = await openAccount(token, { name: 'Demo Family', email: 'demo@example.com' }, { paymentMode: 'POSTPAID', creditLimit: '200.00' });
    return { ...opened, lineIds: await addLines(token, opened.billingAccountId, familyMsisdns, 'FAMILY_SHARE_50GB') };
  });
  const prepaid = await account(token, [prepaidMsisdn], async () => {
    const opened = await openAccount(token, { name: 'Demo Prepaid', email: 'prepaid@example.com' }, { paymentMode: 'PREPAID' });
    // The bundle's fee (and the starter pack) come out of the balance before its allowances: top up first.
    const wallet = await until(async () => (await call<{ billingAccount: { wallets: { id: string }[] } }>(token, 'query($id: ID!) { billingAccount(id: $id) { wallets { id } } }', { id: opened.billingAccountId })).billingAccount.wallets[0], 30_000);
    if (!wallet) throw new Error(`the prepaid demo account ${opened.billingAccountId} got no wallet within 30 s`);
    await call(token, 'mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { wallet { id } } }', { i: { billingAccountId: opened.billingAccountId, amount: { amount: '30.00', currency: 'EUR' }, idempotencyKey: `demo-topup-${opened.billingAccountId}`, reference: 'demo' } });
    return { ...opened, lineIds: await addLines(token, opened.billingAccountId, [prepaidMsisdn], 'PREPAID_BUNDLE_30D') };
  });

  const call1 = { calledNumber: '+4930901820' };
  await Promise.all([
    recordDemoUsage(token, family.lineIds[0]!, familyMsisdns[0]!, [{ usageType: 'DATA', quantity: '2048' }, { usageType: 'VOICE', quantity: '600', ...call1 }, { usageType: 'SMS', quantity: '3', ...call1 }], waitMs),
    recordDemoUsage(token, family.lineIds[1]!, familyMsisdns[1]!, [{ usageType: 'DATA', quantity: '512' }], waitMs),
    recordDemoUsage(token, prepaid.lineIds[0]!, prepaidMsisdn, [{ usageType: 'DATA', quantity: '1500' }, { usageType: 'VOICE', quantity: '300', ...call1 }], waitMs),
  ]);
  return { ...family, prepaid };
}

if (process.argv[1] && import.meta.filename === path.resolve(process.argv[1])) {
  const data = await seed();
  process.stdout.write(`${JSON.stringify(data)}\n`);
}
