/**
 * A customer cannot tell another customer's invoice or dispute from one that does not exist through
 * the mutations a customer may call: openDispute / recordPayment (by CARD) naming an invoice,
 * withdrawDispute naming a dispute, recordPayment naming an invoice by its payment reference. Each
 * answers another customer's id exactly as a made-up one (code, reason, field, message naming the
 * id or reference). Staff keep the precise answers.
 *
 * Found: openDispute and withdrawDispute (disputes.ts, requireAccount on the row) and recordPayment
 * (requirePayer) answered FORBIDDEN for another customer's invoice / dispute / reference and
 * NOT_FOUND (PAYMENT_REFERENCE_UNMATCHED) for one that does not exist: an oracle of which ids exist.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import type { DisputeStarter } from '../src/ports/disputes';
import { startHarness, type Harness } from './support';
import { agent, closedSeptember, customer, NO_DUNNING } from './dispute-support';

let h: Harness;
const disputes: DisputeStarter = { start: async () => undefined, running: async () => true, poke: async () => undefined };

const A = customer('cus_probe_a');
const B = customer('cus_probe_b');
const AGENT = agent('care-ann');
const PARTNER: Caller = { role: 'PARTNER', subject: 'feed', partnerId: 'feed', scopes: [] };

const OPEN = `mutation($i: OpenDisputeInput!) { openDispute(input: $i) { dispute { id } } }`;
const WITHDRAW = `mutation($i: WithdrawDisputeInput!) { withdrawDispute(input: $i) { dispute { id } } }`;
const PAY = `mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } } }`;

type Ids = { invoiceId: string; disputeId: string; reference: string };
let theirs: Ids;
let unknown: Ids;

/** An id of the same shape as `id` (prefix, 32 hex digits) that names nothing. */
const madeUp = (id: string) => id.replace(/[0-9a-f]{32}$/, randomBytes(16).toString('hex'));

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, dunning: NO_DUNNING, disputes });
  await closedSeptember(h, 'acc_probe_a', 'cus_probe_a');
  const inv = await closedSeptember(h, 'acc_probe_b', 'cus_probe_b');
  const reference = (await h.gql<any>('query($id: ID!) { invoice(id: $id) { paymentReference } }', { id: inv.id })).invoice.paymentReference as string;
  const d = await h.svc.request<any>(OPEN, { i: { invoiceId: inv.id, amount: '1.00', reason: 'Not mine', idempotencyKey: 'probe-b' } }, B);
  expect(d.errors).toBeUndefined();
  theirs = { invoiceId: inv.id, disputeId: d.data.openDispute.dispute.id, reference };
  // A reference of the same shape (the last digit group another number) that no invoice has.
  unknown = { invoiceId: madeUp(inv.id), disputeId: madeUp(theirs.disputeId), reference: reference.replace(/\d+$/, (m) => String(Number(m) + 900000).padStart(m.length, '0')) };
  expect((await h.gql<any>('query($id: ID!) { invoice(id: $id) { id } }', { id: unknown.invoiceId })).invoice).toBeNull();
});
afterAll(async () => h?.svc.close());

type Res = { data?: unknown; errors?: readonly { message: string; extensions?: Record<string, unknown> }[] };
/** The answer as a client sees it, the id it named replaced by <id>. */
function answer(r: Res, id: string) {
  const e = r.errors?.[0];
  if (!e) return { ok: r.data };
  return { code: e.extensions?.code, reason: e.extensions?.reason, field: e.extensions?.field, message: e.message.split(id).join('<id>'), namesId: e.message.includes(id) };
}

const card = { channel: 'CARD', paymentMethodToken: 'tok_visa', amount: { amount: '1.00', currency: 'EUR' } };
let key = 0;
/** [name, mutation, input for the ids, the id (or reference) named, the answer a made-up one gets]. */
const MUTATIONS: [string, string, (x: Ids) => Record<string, unknown>, (x: Ids) => string, string][] = [
  ['openDispute', OPEN, (x) => ({ invoiceId: x.invoiceId, amount: '1.00', reason: 'Probe', idempotencyKey: `probe-${key++}` }), (x) => x.invoiceId, 'INVOICE_NOT_FOUND'],
  ['withdrawDispute', WITHDRAW, (x) => ({ disputeId: x.disputeId }), (x) => x.disputeId, 'DISPUTE_NOT_FOUND'],
  ['recordPayment (CARD, invoiceId)', PAY, (x) => ({ ...card, invoiceId: x.invoiceId, idempotencyKey: `probe-${key++}` }), (x) => x.invoiceId, 'INVOICE_NOT_FOUND'],
  ['recordPayment (CARD, reference)', PAY, (x) => ({ ...card, reference: x.reference, idempotencyKey: `probe-${key++}` }), (x) => x.reference, 'PAYMENT_REFERENCE_UNMATCHED'],
];

describe("a customer cannot probe which ids exist: another customer's object answers as a made-up one", () => {
  it.each(MUTATIONS)('%s', async (_name, query, input, named, reason) => {
    const charges = h.payments.charges.size;
    const other = answer(await h.svc.request(query, { i: input(theirs) }, A), named(theirs));
    const none = answer(await h.svc.request(query, { i: input(unknown) }, A), named(unknown));
    expect(other).toEqual(none);
    expect(other).toMatchObject({ reason, namesId: true });
    expect(h.payments.charges.size).toBe(charges);

    // Staff keep the precise answer for a made-up id; a partner is refused by role, whatever the id.
    expect(answer(await h.svc.request(query, { i: input(unknown) }, AGENT), named(unknown))).toEqual(none);
    const partner = [await h.svc.request(query, { i: input(theirs) }, PARTNER), await h.svc.request(query, { i: input(unknown) }, PARTNER)].map((r) => r.errors?.[0]?.extensions?.code);
    expect(partner).toEqual(['FORBIDDEN', 'FORBIDDEN']);
  });

  it("B's dispute is still open, and B still withdraws it", async () => {
    const r = await h.svc.request<any>(WITHDRAW, { i: { disputeId: theirs.disputeId } }, B);
    expect(r.errors).toBeUndefined();
  });
});
