/**
 * Demo data for `npm start`: publishes the sample catalog and creates a few customers through the
 * gateway, the way a real client would. Idempotent: running it again changes nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { signToken } from '../../gateway/src/auth';

const gatewayUrl = process.env.GATEWAY_URL ?? 'http://127.0.0.1:4000/graphql';
const root = path.resolve(import.meta.dirname, '..', '..');

async function call<T = any>(token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }) });
  const body = (await response.json()) as { data?: T; errors?: { message: string }[] };
  if (body.errors?.length) throw new Error(`${body.errors.map((e) => e.message).join('; ')}`);
  return body.data as T;
}

export interface DemoData {
  customerId: string;
  billingAccountId: string;
  lineIds: string[];
}

export async function seed(): Promise<DemoData> {
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

  const demoMsisdns = ['+4915111000001', '+4915111000002', '+4915111000003'];
  const existing = await call<{ lineByMsisdn: { id: string; billingAccount: { id: string; customer: { id: string } } } | null }>(
    token,
    'query($m: String!) { lineByMsisdn(msisdn: $m) { id billingAccount { id customer { id } } } }',
    { m: demoMsisdns[0] },
  );
  if (existing.lineByMsisdn) {
    const account = await call<{ billingAccount: { lines: { id: string }[] } }>(token, 'query($id: ID!) { billingAccount(id: $id) { lines { id } } }', { id: existing.lineByMsisdn.billingAccount.id });
    return { customerId: existing.lineByMsisdn.billingAccount.customer.id, billingAccountId: existing.lineByMsisdn.billingAccount.id, lineIds: account.billingAccount.lines.map((l) => l.id) };
  }
  const { createCustomer } = await call(token, 'mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }', {
    i: { name: 'Demo Family', kind: 'INDIVIDUAL', email: 'demo@example.com', timezone: 'Europe/Berlin' },
  });
  const { openBillingAccount } = await call(token, 'mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }', {
    i: { customerId: createCustomer.customer.id, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, creditLimit: '200.00' },
  });
  const lineIds: string[] = [];
  for (const msisdn of demoMsisdns) {
    const { addLine } = await call(token, 'mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }', { i: { billingAccountId: openBillingAccount.billingAccount.id, msisdn } });
    lineIds.push(addLine.line.id);
  }
  return { customerId: createCustomer.customer.id, billingAccountId: openBillingAccount.billingAccount.id, lineIds };
}

if (process.argv[1] && import.meta.filename === path.resolve(process.argv[1])) {
  const data = await seed();
  process.stdout.write(`${JSON.stringify(data)}\n`);
}
