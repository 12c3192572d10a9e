// `Migration20270126000000_wallet_charge_refused_named` on a database holding refused wallet charges as
// stored before 2026-11-29 (session 31): messages held `not_a_cloud_event` without the charge and account
// their text names. Each gets the ids the consumer reads in it now; one naming a charge already BILLED or
// WAIVED (of its account, or naming none) takes that outcome and invoice, as a hold arriving after the
// billing is stored; the rest stay HELD. Migrated up to the migration before, seeded, then migrated to the end.
import { describe, expect, it } from 'vitest';
import { dropSchema, openDatabase, TEST_DATABASE_URL, type Orm } from '@ledgerline/platform';
import { entities } from '../src/persistence/entities';
import { migrations } from '../src/persistence/migrations';

const TARGET = 'Migration20270126000000_wallet_charge_refused_named';
const at = migrations.findIndex((m) => m.name === TARGET);
const t0 = '2026-11-20T08:00:00.000Z';

const run = (orm: Orm, text: string, params: unknown[] = []) => orm.em.fork().getConnection().execute(text, params);
const row = (orm: Orm, r: { key: string; chargeId?: string; account?: string; status: string; reason?: string; invoice?: string; message: string }) =>
  run(orm, `insert into wallet_charge_refused (key, charge_id, billing_account_id, event_id, status, held_reason, held_because, invoice_id, message, received_at, updated_at) values (?, ?, ?, null, ?, ?, ?, ?, ?, ?, ?)`, [
    r.key, r.chargeId ?? null, r.account ?? null, r.status, r.reason ?? null, r.reason ? 'as held' : null, r.invoice ?? null, r.message, t0, t0,
  ]);
const data = (chargeId: string, account: string) => ({ chargeId, billingAccountId: account, amount: { amount: '5.00', currency: 'EUR' } });
/** A CloudEvent with no id, type or source: JSON, but not a CloudEvent. */
const broken = (chargeId: string, account: string) => JSON.stringify({ specversion: '1.0', data: data(chargeId, account) });
/** An event cut short: not JSON, its ids still there. */
const cut = (chargeId: string, account: string) => JSON.stringify({ specversion: '1.0', id: `evt_${chargeId}`, type: 'billing.wallets.charge.refused', data: data(chargeId, account) }).slice(0, -30);

describe('wallet-charge-refused-named migration on a database holding messages held not_a_cloud_event', () => {
  it('names their charge and account, and settles those whose charge was billed or waived', async () => {
    expect(at, `${TARGET} is registered`).toBeGreaterThan(0);
    const schema = `t_wcrn_${Date.now().toString(36)}_invoicing`;
    const open = (list: typeof migrations) => openDatabase({ service: 'invoicing', databaseUrl: TEST_DATABASE_URL, schema, sqlitePath: '', entities, migrations: list });
    try {
      const old = await open(migrations.slice(0, at));
      try {
        await row(old, { key: 'charge:chg_billed', chargeId: 'chg_billed', account: 'acc_1', status: 'BILLED', invoice: 'inv_1', message: JSON.stringify(data('chg_billed', 'acc_1')) });
        await row(old, { key: 'charge:chg_waived', chargeId: 'chg_waived', account: 'acc_2', status: 'WAIVED', message: JSON.stringify(data('chg_waived', 'acc_2')) });
        await row(old, { key: 'charge:chg_held', chargeId: 'chg_held', account: 'acc_3', status: 'HELD', reason: 'account_unknown', message: JSON.stringify(data('chg_held', 'acc_3')) });
        await row(old, { key: 'message:1', status: 'HELD', reason: 'not_a_cloud_event', message: broken('chg_billed', 'acc_1') });
        await row(old, { key: 'message:2', status: 'HELD', reason: 'not_a_cloud_event', message: cut('chg_waived', 'acc_2') });
        await row(old, { key: 'message:3', status: 'HELD', reason: 'not_a_cloud_event', message: broken('chg_held', 'acc_3') });
        // Names the billed charge under another account: not that charge.
        await row(old, { key: 'message:4', status: 'HELD', reason: 'not_a_cloud_event', message: broken('chg_billed', 'acc_9') });
        await row(old, { key: 'message:5', status: 'HELD', reason: 'not_a_cloud_event', message: 'garbage' });
        // Held for another reason: not this migration's.
        await row(old, { key: 'event:evt_6', status: 'HELD', reason: 'invalid', message: JSON.stringify({ specversion: '1.0', id: 'evt_6', data: { billingAccountId: 'acc_1' } }) });
      } finally {
        await old.close();
      }
      const orm = await open(migrations);
      try {
        const rows = await run(orm, 'select key, charge_id, billing_account_id, status, held_reason, invoice_id, updated_at from wallet_charge_refused order by key');
        expect(rows.map((r: any) => [r.key, r.charge_id, r.billing_account_id, r.status, r.held_reason, r.invoice_id])).toEqual([
          ['charge:chg_billed', 'chg_billed', 'acc_1', 'BILLED', null, 'inv_1'],
          ['charge:chg_held', 'chg_held', 'acc_3', 'HELD', 'account_unknown', null],
          ['charge:chg_waived', 'chg_waived', 'acc_2', 'WAIVED', null, null],
          ['event:evt_6', null, null, 'HELD', 'invalid', null],
          ['message:1', 'chg_billed', 'acc_1', 'BILLED', null, 'inv_1'],
          ['message:2', 'chg_waived', 'acc_2', 'WAIVED', null, null],
          ['message:3', 'chg_held', 'acc_3', 'HELD', 'not_a_cloud_event', null],
          ['message:4', 'chg_billed', 'acc_9', 'HELD', 'not_a_cloud_event', null],
          ['message:5', null, null, 'HELD', 'not_a_cloud_event', null],
        ]);
        const touched = rows.filter((r: any) => new Date(r.updated_at).toISOString() !== t0).map((r: any) => r.key);
        expect(touched, 'only the settled rows are marked updated').toEqual(['message:1', 'message:2']);
      } finally {
        await orm.close();
      }
    } finally {
      await dropSchema(schema);
    }
  });
});
