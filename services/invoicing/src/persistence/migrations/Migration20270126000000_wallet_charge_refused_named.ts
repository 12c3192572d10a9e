import { PortableMigration } from '@ledgerline/platform';
import { refusedChargeIn } from '../../application/wallet-charge-refused';

/**
 * Messages of `billing.wallets.charge.refused` held `not_a_cloud_event` before 2026-11-29 (session 31) were
 * stored without the charge and account their text still names (`charge_id` / `billing_account_id` null),
 * so billing that charge from a readable delivery could not find them (`settleBrokenCopies`): they stayed
 * HELD, outstanding for operators though billed. Such rows get the ids the consumer reads in them now
 * (`refusedChargeIn` on the stored `message`: the data's `chargeId` / `billingAccountId`, or their
 * `"chargeId":"…"` pairs in a text cut short), and every message held `not_a_cloud_event` naming a charge
 * already BILLED or WAIVED (of that charge's account, or naming none) takes the charge's status and
 * `invoice_id`, as a hold arriving after the billing would. Not counted again: the holds counter counted
 * them when held. A message naming nothing, or a charge not settled yet, stays HELD as it was; one the
 * consumer would read as a CloudEvent now is left alone (delivered again, it is billed). Plain SQL rather
 * than the entities, which will change after this migration.
 */
export class Migration20270126000000_wallet_charge_refused_named extends PortableMigration {
  override async up(): Promise<void> {
    // A migration has no clock but the wall's.
    const now = new Date();
    const unnamed = (await this.execute(`select key, message from wallet_charge_refused where status = 'HELD' and held_reason = 'not_a_cloud_event' and charge_id is null order by key`)) as { key: string; message: string }[];
    for (const row of unnamed) {
      const m = refusedChargeIn(row.message, undefined);
      if (m.problem?.reason !== 'not_a_cloud_event' || m.chargeId == null) continue;
      await this.execute(`update wallet_charge_refused set charge_id = ?, billing_account_id = ? where key = ?`, [m.chargeId, m.billingAccountId, row.key]);
    }
    const named = (await this.execute(
      `select h.key, c.status, c.invoice_id from wallet_charge_refused h
         join wallet_charge_refused c on c.key = 'charge:' || h.charge_id and c.status in ('BILLED', 'WAIVED')
        where h.status = 'HELD' and h.held_reason = 'not_a_cloud_event' and h.key <> c.key
          and (h.billing_account_id is null or h.billing_account_id = c.billing_account_id)
        order by h.key`,
    )) as { key: string; status: string; invoice_id: string | null }[];
    for (const h of named) {
      await this.execute(`update wallet_charge_refused set status = ?, held_reason = null, held_because = null, invoice_id = ?, updated_at = ? where key = ? and status = 'HELD'`, [h.status, h.invoice_id, now, h.key]);
    }
    super.up();
  }

  protected override statements(): string[] {
    return [];
  }
}
