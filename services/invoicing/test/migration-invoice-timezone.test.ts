// `Migration20270125000000_invoice_timezone` on a database that already holds invoices: each gets the
// zone its document printed until then (the account's cycle zone at the period start: `prev_timezone`
// before `bill_cycle_changes_at`, else `timezone`), so no existing document changes at the deploy; an
// invoice of an account invoicing does not know gets UTC, as its document printed. The column is
// required afterwards. Migrated up to the migration before, seeded, then migrated to the end.
import { describe, expect, it } from 'vitest';
import { dropSchema, openDatabase, TEST_DATABASE_URL, type Orm } from '@ledgerline/platform';
import { entities } from '../src/persistence/entities';
import { migrations } from '../src/persistence/migrations';

const TARGET = 'Migration20270125000000_invoice_timezone';
const at = migrations.findIndex((m) => m.name === TARGET);

const run = (orm: Orm, text: string, params: unknown[] = []) => orm.em.fork().getConnection().execute(text, params);
const account = (orm: Orm, id: string, timezone: string, prev: { timezone: string; changesAt: string } | null = null) =>
  run(orm, `insert into billing_account (id, payment_mode, currency, bill_cycle_day, timezone, prev_bill_cycle_day, prev_timezone, bill_cycle_changes_at, jurisdiction, created_at)
            values (?, 'POSTPAID', 'EUR', 1, ?, ?, ?, ?, 'DE', '2026-08-01T00:00:00Z')`, [id, timezone, prev ? 1 : null, prev?.timezone ?? null, prev?.changesAt ?? null]);
const invoice = (orm: Orm, id: string, acc: string, periodStart: string, periodEnd: string, kind = 'PERIOD') =>
  run(orm, `insert into invoice (id, billing_account_id, kind, source_ref, number, series, state, period_start, period_end, currency, net_total, tax_total, total, amount_paid, amount_credited, amount_disputed, rounding_mode, created_at)
            values (?, ?, ?, ?, null, 'INV', 'SENT', ?, ?, 'EUR', 1, 0, 1, 0, 0, 0, 'HALF_EVEN', ?)`, [id, acc, kind, kind === 'PERIOD' ? null : id, periodStart, periodEnd, periodEnd]);

describe('invoice-timezone migration on a database holding invoices', () => {
  it("gives every invoice the zone its document printed, then requires one", async () => {
    expect(at, `${TARGET} is registered`).toBeGreaterThan(0);
    const schema = `t_invtz_${Date.now().toString(36)}_invoicing`;
    const open = (list: typeof migrations) => openDatabase({ service: 'invoicing', databaseUrl: TEST_DATABASE_URL, schema, sqlitePath: '', entities, migrations: list });
    try {
      const old = await open(migrations.slice(0, at));
      try {
        await account(old, 'acc_still', 'Europe/Berlin');
        // Asked on 20 Sep for New York, in effect from 1 Oct (Berlin): September is still Berlin's.
        await account(old, 'acc_moving', 'America/New_York', { timezone: 'Europe/Berlin', changesAt: '2026-09-30T22:00:00Z' });
        await invoice(old, 'inv_still', 'acc_still', '2026-08-31T22:00:00Z', '2026-09-30T22:00:00Z');
        await invoice(old, 'inv_moving_sep', 'acc_moving', '2026-08-31T22:00:00Z', '2026-09-30T22:00:00Z');
        await invoice(old, 'inv_moving_oct', 'acc_moving', '2026-09-30T22:00:00Z', '2026-11-01T04:00:00Z');
        await invoice(old, 'inv_moving_charge', 'acc_moving', '2026-10-05T10:00:00Z', '2026-10-05T10:00:00Z', 'WALLET_CHARGE');
        await invoice(old, 'inv_unknown', 'acc_unknown', '2026-08-31T22:00:00Z', '2026-09-30T22:00:00Z');
      } finally {
        await old.close();
      }
      const orm = await open(migrations);
      try {
        expect((await run(orm, 'select id, timezone from invoice order by id')).map((r: any) => [r.id, r.timezone])).toEqual([
          ['inv_moving_charge', 'America/New_York'],
          ['inv_moving_oct', 'America/New_York'],
          ['inv_moving_sep', 'Europe/Berlin'],
          ['inv_still', 'Europe/Berlin'],
          ['inv_unknown', 'UTC'],
        ]);
        await expect(invoice(orm, 'inv_none', 'acc_still', '2026-09-30T22:00:00Z', '2026-10-31T23:00:00Z')).rejects.toThrow(/timezone/);
      } finally {
        await orm.close();
      }
    } finally {
      await dropSchema(schema);
    }
  });
});
