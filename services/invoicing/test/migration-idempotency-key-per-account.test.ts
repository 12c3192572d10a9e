// `Migration20270120000000_idempotency_key_per_account` on a database that already holds payments,
// refunds, credit notes, unapplied payment applies and payouts and approval requests: the unique
// indexes on the key alone go, unique indexes per billing account (a suspense line's payout: per
// line) come; refunds and applies get their payment's account. Rows were unique per key, so they all
// stay and are found by (account, key); afterwards another account may take a key one account used,
// the same account may not. Migrated up to the migration before, seeded, then migrated to the end.
import { describe, expect, it } from 'vitest';
import { dropSchema, openDatabase, TEST_DATABASE_URL, type Orm } from '@ledgerline/platform';
import { entities } from '../src/persistence/entities';
import { migrations } from '../src/persistence/migrations';

const TARGET = 'Migration20270120000000_idempotency_key_per_account';
const at = migrations.findIndex((m) => m.name === TARGET);
const t0 = new Date('2027-01-10T08:00:00Z');

const run = (orm: Orm, text: string, params: unknown[] = []) => orm.em.fork().getConnection().execute(text, params);
const outcome = (p: Promise<unknown>): Promise<string> => p.then(() => 'inserted', (e: Error) => (/unique|duplicate/i.test(e.message) ? 'unique violation' : e.message));

const payment = (orm: Orm, id: string, account: string, key: string) =>
  run(orm, `insert into payment (id, billing_account_id, invoice_id, channel, amount, currency, idempotency_key, request_hash, created_at) values (?, ?, ?, 'CARD', 10, 'EUR', ?, 'h', ?)`, [id, account, `inv_${account}`, key, t0]);
const refund = (orm: Orm, id: string, paymentId: string, key: string, account?: string) =>
  account
    ? run(orm, `insert into refund (id, payment_id, billing_account_id, amount, currency, idempotency_key, request_hash, created_at) values (?, ?, ?, 1, 'EUR', ?, 'h', ?)`, [id, paymentId, account, key, t0])
    : run(orm, `insert into refund (id, payment_id, amount, currency, idempotency_key, request_hash, created_at) values (?, ?, 1, 'EUR', ?, 'h', ?)`, [id, paymentId, key, t0]);
const note = (orm: Orm, id: string, account: string, key: string) =>
  run(orm, `insert into credit_note (id, invoice_id, billing_account_id, kind, reason, total, tax_total, currency, idempotency_key, request_hash, created_at) values (?, ?, ?, 'CREDIT', 'r', 1, 0, 'EUR', ?, 'h', ?)`, [id, `inv_${account}`, account, key, t0]);
const line = (orm: Orm, id: string) =>
  run(orm, `insert into unapplied_payment (id, bank_transaction_id, amount, currency, reference, received_at, status, reason_code, request_hash, created_at, remaining_amount) values (?, ?, 10, 'EUR', 'x', ?, 'UNAPPLIED', 'PAYMENT_REFERENCE_UNMATCHED', 'h', ?, 10)`, [id, `bt_${id}`, t0, t0]);
const apply = (orm: Orm, id: string, lineId: string, paymentId: string, key: string, account?: string) =>
  run(orm, `insert into unapplied_payment_application (id, unapplied_payment_id, ${account ? 'billing_account_id, ' : ''}invoice_id, payment_id, amount, idempotency_key, applied_at) values (?, ?, ${account ? '?, ' : ''}'inv_x', ?, 1, ?, ?)`, account ? [id, lineId, account, paymentId, key, t0] : [id, lineId, paymentId, key, t0]);
const payout = (orm: Orm, id: string, lineId: string, key: string) =>
  run(orm, `insert into unapplied_payment_refund (id, unapplied_payment_id, amount, payout_reference, note, idempotency_key, refunded_at) values (?, ?, 1, ?, 'n', ?, ?)`, [id, lineId, `out_${id}`, key, t0]);
const request = (orm: Orm, id: string, account: string, key: string) =>
  run(orm, `insert into approval_request (id, kind, subject_id, billing_account_id, amount, currency, requested_by, requested_role, reason, input, request_key, request_hash, status, created_at) values (?, 'REFUND', 'pay_x', ?, 6, 'EUR', 'agent', 'AGENT', 'r', '{}', ?, 'h', 'PENDING', ?)`, [id, account, key, t0]);

describe('idempotency-key-per-account migration on a database holding keyed rows', () => {
  it('keeps every row, gives refunds and applies their account, scopes each key to its account (a payout’s to its line)', async () => {
    expect(at, `${TARGET} is registered`).toBeGreaterThan(0);
    const schema = `t_ikpa_${Date.now().toString(36)}_invoicing`;
    const open = (list: typeof migrations) => openDatabase({ service: 'invoicing', databaseUrl: TEST_DATABASE_URL, schema, sqlitePath: '', entities, migrations: list });
    try {
      const old = await open(migrations.slice(0, at));
      try {
        await payment(old, 'pay_1', 'acc_1', 'pay-1');
        await payment(old, 'pay_2', 'acc_2', 'pay-2');
        await payment(old, 'pay_3', 'acc_1', 'autopay:inv_acc_1');
        await refund(old, 'rfd_1', 'pay_1', 'rf-1');
        await refund(old, 'rfd_2', 'pay_2', 'credit-note:cn-1:pay_2');
        await note(old, 'cn_1', 'acc_1', 'cn-1');
        await line(old, 'upay_1');
        await line(old, 'upay_2');
        await apply(old, 'upapp_1', 'upay_1', 'pay_2', 'ap-1');
        await payout(old, 'uprfd_1', 'upay_1', 'urf-1');
        await request(old, 'apr_1', 'acc_1', 'rf-big');
        // Before: one key space; acc_2 cannot take acc_1's key.
        expect(await outcome(payment(old, 'pay_b', 'acc_2', 'pay-1'))).toBe('unique violation');
      } finally {
        await old.close();
      }
      const orm = await open(migrations);
      try {
        expect((await run(orm, 'select id, billing_account_id as a, idempotency_key as k from payment order by id')).map((r: any) => [r.id, r.a, r.k])).toEqual([
          ['pay_1', 'acc_1', 'pay-1'],
          ['pay_2', 'acc_2', 'pay-2'],
          ['pay_3', 'acc_1', 'autopay:inv_acc_1'],
        ]);
        expect((await run(orm, 'select id, billing_account_id as a from refund order by id')).map((r: any) => [r.id, r.a])).toEqual([['rfd_1', 'acc_1'], ['rfd_2', 'acc_2']]);
        expect((await run(orm, 'select id, billing_account_id as a from unapplied_payment_application')).map((r: any) => [r.id, r.a])).toEqual([['upapp_1', 'acc_2']]);
        // Looked up by (account, key): each account's own row.
        expect((await run(orm, 'select id from payment where billing_account_id = ? and idempotency_key = ?', ['acc_1', 'pay-1'])).map((r: any) => r.id)).toEqual(['pay_1']);
        expect((await run(orm, 'select id from refund where billing_account_id = ? and idempotency_key = ?', ['acc_1', 'rf-1'])).map((r: any) => r.id)).toEqual(['rfd_1']);

        const after = {
          paymentOther: await outcome(payment(orm, 'pay_4', 'acc_2', 'pay-1')),
          paymentSame: await outcome(payment(orm, 'pay_5', 'acc_1', 'pay-1')),
          refundOther: await outcome(refund(orm, 'rfd_3', 'pay_2', 'rf-1', 'acc_2')),
          refundSame: await outcome(refund(orm, 'rfd_4', 'pay_1', 'rf-1', 'acc_1')),
          noteOther: await outcome(note(orm, 'cn_2', 'acc_2', 'cn-1')),
          noteSame: await outcome(note(orm, 'cn_3', 'acc_1', 'cn-1')),
          applyOther: await outcome(apply(orm, 'upapp_2', 'upay_2', 'pay_1', 'ap-1', 'acc_1')),
          applySame: await outcome(apply(orm, 'upapp_3', 'upay_2', 'pay_4', 'ap-1', 'acc_2')),
          payoutOtherLine: await outcome(payout(orm, 'uprfd_2', 'upay_2', 'urf-1')),
          payoutSameLine: await outcome(payout(orm, 'uprfd_3', 'upay_1', 'urf-1')),
          requestOther: await outcome(request(orm, 'apr_2', 'acc_2', 'rf-big')),
          requestSame: await outcome(request(orm, 'apr_3', 'acc_1', 'rf-big')),
          // Two lines whose latest apply (payout) took the same key.
          latestKeys: await outcome(run(orm, `update unapplied_payment set apply_idempotency_key = 'k', refund_idempotency_key = 'k'`)),
        };
        expect(after).toEqual({
          paymentOther: 'inserted', paymentSame: 'unique violation',
          refundOther: 'inserted', refundSame: 'unique violation',
          noteOther: 'inserted', noteSame: 'unique violation',
          applyOther: 'inserted', applySame: 'unique violation',
          payoutOtherLine: 'inserted', payoutSameLine: 'unique violation',
          requestOther: 'inserted', requestSame: 'unique violation',
          latestKeys: 'inserted',
        });
      } finally {
        await orm.close();
      }
    } finally {
      await dropSchema(schema);
    }
  });
});
