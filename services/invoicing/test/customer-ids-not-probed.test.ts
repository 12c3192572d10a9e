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
 *
 * Nor through the reads of one object by id: `invoice(id)`, `dispute(id)` and the Invoice, Payment,
 * CreditNote and Dispute entities (`_entities`) answer another customer's id exactly as a made-up one
 * (null, no error), as subscribers' reads do. Found: requireRow answered FORBIDDEN for another
 * customer's row and null for an unknown id. Staff read every row; a partner is refused by role.
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

type Ids = { invoiceId: string; disputeId: string; reference: string; paymentId: string; creditNoteId: string };
let theirs: Ids;
let unknown: Ids;

/** An id of the same shape as `id` (prefix, 32 hex digits) that names nothing. */
const madeUp = (id: string) => id.replace(/[0-9a-f]{32}$/, randomBytes(16).toString('hex'));

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, dunning: NO_DUNNING, disputes });
  await closedSeptember(h, 'acc_probe_a', 'cus_probe_a');
  const inv = await closedSeptember(h, 'acc_probe_b', 'cus_probe_b');
  const { paymentReference: reference, lines } = (await h.gql<any>('query($id: ID!) { invoice(id: $id) { paymentReference lines { id } } }', { id: inv.id })).invoice;
  // Staff record a payment and a credit note on B's invoice (read below by id).
  const paid = await h.gql<any>(PAY, { i: { invoiceId: inv.id, channel: 'BANK_TRANSFER', amount: { amount: '1.00', currency: 'EUR' }, idempotencyKey: 'probe-b-pay' } });
  const credited = await h.gql<any>('mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id } } }', {
    i: { invoiceId: inv.id, kind: 'CREDIT', reason: 'goodwill', lines: [{ invoiceLineId: lines[0].id, amount: '0.50' }], idempotencyKey: 'probe-b-note' },
  });
  const d = await h.svc.request<any>(OPEN, { i: { invoiceId: inv.id, amount: '1.00', reason: 'Not mine', idempotencyKey: 'probe-b' } }, B);
  expect(d.errors).toBeUndefined();
  theirs = { invoiceId: inv.id, disputeId: d.data.openDispute.dispute.id, reference, paymentId: paid.recordPayment.payment.id, creditNoteId: credited.issueCreditNote.creditNote.id };
  // A reference of the same shape (the last digit group another number) that no invoice has.
  unknown = {
    invoiceId: madeUp(inv.id),
    disputeId: madeUp(theirs.disputeId),
    reference: reference.replace(/\d+$/, (m: string) => String(Number(m) + 900000).padStart(m.length, '0')),
    paymentId: madeUp(theirs.paymentId),
    creditNoteId: madeUp(theirs.creditNoteId),
  };
  for (const k of ['invoiceId', 'disputeId', 'paymentId', 'creditNoteId'] as const) expect(unknown[k]).not.toBe(theirs[k]);
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

/** The whole response as a client sees it (data, and each error's message, code, reason, field), the id it named replaced by <id>. */
function response(r: Res, id: string): string {
  const errors = r.errors?.map((e) => ({ message: e.message, code: e.extensions?.code, reason: e.extensions?.reason, field: e.extensions?.field }));
  return JSON.stringify({ data: r.data ?? null, errors }).split(id).join('<id>');
}

const entity = (typename: string, fields: string) => `query($id: ID!) { _entities(representations: [{ __typename: "${typename}", id: $id }]) { ... on ${typename} { ${fields} } } }`;
/** [name, query of one object by $id, the id named, the object as staff read it (its id where found)]. */
const READS: [string, string, (x: Ids) => string, (data: any) => unknown][] = [
  ['invoice(id)', 'query($id: ID!) { invoice(id: $id) { id total { amount } } }', (x) => x.invoiceId, (d) => d.invoice?.id],
  ['dispute(id)', 'query($id: ID!) { dispute(id: $id) { id status } }', (x) => x.disputeId, (d) => d.dispute?.id],
  ['Invoice (entity)', entity('Invoice', 'id total { amount }'), (x) => x.invoiceId, (d) => d._entities[0]?.id],
  ['Payment (entity)', entity('Payment', 'id amount { amount }'), (x) => x.paymentId, (d) => d._entities[0]?.id],
  ['CreditNote (entity)', entity('CreditNote', 'id total { amount }'), (x) => x.creditNoteId, (d) => d._entities[0]?.id],
  ['Dispute (entity)', entity('Dispute', 'id status'), (x) => x.disputeId, (d) => d._entities[0]?.id],
];

describe("a customer cannot probe which ids exist by reading: another customer's object reads as a made-up one", () => {
  it.each(READS)('%s', async (_name, query, named, found) => {
    const other = await h.svc.request<any>(query, { id: named(theirs) }, A);
    const none = await h.svc.request<any>(query, { id: named(unknown) }, A);
    // The same response, and it is the unknown id's: nothing, no error.
    expect(response(other, named(theirs))).toBe(response(none, named(unknown)));
    expect(other.errors).toBeUndefined();
    expect(found(other.data) ?? null).toBeNull();

    // The owner and staff read it; staff read a made-up id as null; a partner is refused by role, whatever the id.
    expect(found((await h.svc.request<any>(query, { id: named(theirs) }, B)).data)).toBe(named(theirs));
    expect(found((await h.svc.request<any>(query, { id: named(theirs) }, AGENT)).data)).toBe(named(theirs));
    expect(found((await h.svc.request<any>(query, { id: named(unknown) }, AGENT)).data) ?? null).toBeNull();
    const partner = [await h.svc.request(query, { id: named(theirs) }, PARTNER), await h.svc.request(query, { id: named(unknown) }, PARTNER)].map((r) => r.errors?.[0]?.extensions?.code);
    expect(partner).toEqual(['FORBIDDEN', 'FORBIDDEN']);
  });

  it("lists show only the customer's own accounts; naming another customer's account answers as an unknown one", async () => {
    const LISTS = ['{ invoices(first: 100) { edges { node { id } } } }', '{ disputes(first: 100) { edges { node { id } } } }'];
    for (const q of LISTS) {
      const r = await h.svc.request(q, {}, A);
      expect(r.errors).toBeUndefined();
      expect(JSON.stringify(r.data)).not.toContain(theirs.invoiceId);
      expect(JSON.stringify(r.data)).not.toContain(theirs.disputeId);
    }
    const BY_ACCOUNT = [
      'query($a: ID) { invoices(billingAccountId: $a) { edges { node { id } } } }',
      'query($a: ID) { disputes(filter: { billingAccountId: $a }) { edges { node { id } } } }',
      'query($a: ID!) { payments(billingAccountId: $a) { edges { node { id } } } }',
      'query($a: ID!) { creditNotes(billingAccountId: $a) { edges { node { id } } } }',
    ];
    for (const q of BY_ACCOUNT) {
      const other = response(await h.svc.request(q, { a: 'acc_probe_b' }, A), 'acc_probe_b');
      const none = response(await h.svc.request(q, { a: 'acc_probe_nobody' }, A), 'acc_probe_nobody');
      expect(other, q).toBe(none);
    }
  });
});
