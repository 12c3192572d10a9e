// `Migration20270127000000_invoice_customer_name` on a database that already holds invoices: each issued
// invoice gets its account's name now (what its document printed until then: the name at issue was never
// kept), a draft keeps none (its document follows the account until it is issued), and an invoice of an
// account invoicing does not know keeps none (its document prints the account id, as it did). Migrated up
// to the migration before, seeded, then migrated to the end.
import { describe, expect, it } from 'vitest';
import { dropSchema, openDatabase, TEST_DATABASE_URL, type Orm } from '@ledgerline/platform';
import { entities } from '../src/persistence/entities';
import { migrations } from '../src/persistence/migrations';

const TARGET = 'Migration20270127000000_invoice_customer_name';
const at = migrations.findIndex((m) => m.name === TARGET);

const run = (orm: Orm, text: string, params: unknown[] = []) => orm.em.fork().getConnection().execute(text, params);
const account = (orm: Orm, id: string, customerName: string | null) =>
  run(orm, `insert into billing_account (id, customer_name, payment_mode, currency, bill_cycle_day, timezone, jurisdiction, created_at)
            values (?, ?, 'POSTPAID', 'EUR', 1, 'Europe/Berlin', 'DE', '2026-08-01T00:00:00Z')`, [id, customerName]);
const invoice = (orm: Orm, id: string, acc: string, issuedAt: string | null, periodStart = '2026-08-31T22:00:00Z', periodEnd = '2026-09-30T22:00:00Z') =>
  run(orm, `insert into invoice (id, billing_account_id, kind, number, series, state, period_start, period_end, currency, net_total, tax_total, total, amount_paid, amount_credited, amount_disputed, rounding_mode, timezone, issued_at, created_at)
            values (?, ?, 'PERIOD', ?, 'INV', ?, ?, ?, 'EUR', 1, 0, 1, 0, 0, 0, 'HALF_EVEN', 'Europe/Berlin', ?, ?)`,
    [id, acc, issuedAt ? `INV-${id}` : null, issuedAt ? 'SENT' : 'NEW', periodStart, periodEnd, issuedAt, periodEnd]);

describe('invoice-customer-name migration on a database holding invoices', () => {
  it("gives every issued invoice the name its document printed, and drafts none", async () => {
    expect(at, `${TARGET} is registered`).toBeGreaterThan(0);
    const schema = `t_invcn_${Date.now().toString(36)}_invoicing`;
    const open = (list: typeof migrations) => openDatabase({ service: 'invoicing', databaseUrl: TEST_DATABASE_URL, schema, sqlitePath: '', entities, migrations: list });
    try {
      const old = await open(migrations.slice(0, at));
      try {
        await account(old, 'acc_named', 'Erika Mustermann');
        await account(old, 'acc_nameless', null);
        await invoice(old, 'inv_issued', 'acc_named', '2026-10-01T08:00:00Z');
        await invoice(old, 'inv_draft', 'acc_named', null, '2026-09-30T22:00:00Z', '2026-10-31T23:00:00Z');
        await invoice(old, 'inv_nameless', 'acc_nameless', '2026-10-01T08:00:00Z');
        await invoice(old, 'inv_unknown', 'acc_unknown', '2026-10-01T08:00:00Z');
      } finally {
        await old.close();
      }
      const orm = await open(migrations);
      try {
        expect((await run(orm, 'select id, customer_name from invoice order by id')).map((r: any) => [r.id, r.customer_name])).toEqual([
          ['inv_draft', null],
          ['inv_issued', 'Erika Mustermann'],
          ['inv_nameless', null],
          ['inv_unknown', null],
        ]);
      } finally {
        await orm.close();
      }
    } finally {
      await dropSchema(schema);
    }
  });
});
