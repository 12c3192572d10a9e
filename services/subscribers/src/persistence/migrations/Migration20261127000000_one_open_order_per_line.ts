import { createCloudEvent, EVENTS, type SubscriptionData } from '@ledgerline/contracts';
import { PortableMigration } from '@ledgerline/platform';

/**
 * One open order and one scheduled plan change per line: placement checks both and locks the line
 * (PostgreSQL), and these partial unique indexes back those checks (rule 5), so a request that
 * slips past them anyway (another code path, SQLite, a bug) is refused with the coded CONFLICT
 * instead of doubling the line's plan or its lifecycle events. Same SQL on PostgreSQL and SQLite.
 *
 * A database written before the checks may already hold such duplicates, on which the indexes
 * cannot be created; they are resolved first (on a database without them this changes nothing):
 * per line the oldest open order (created_at, then id) stays and the others become FAILED with
 * ORDER_ALREADY_OPEN, as placing them now would be refused; the oldest SCHEDULED subscription
 * stays and the others end before they start (ENDED, ends_at = starts_at, never in force). Each
 * change goes to the outbox like any other, so invoicing and wallets drop the cancelled plan too.
 * Plain SQL rather than the entities, which will change after this migration.
 */
export class Migration20261127000000_one_open_order_per_line extends PortableMigration {
  override async up(): Promise<void> {
    await this.resolveDuplicates();
    super.up();
  }

  protected override statements(): string[] {
    return [
      `create unique index product_order_line_open_unique on product_order (line_id) where status in ('ACKNOWLEDGED', 'IN_PROGRESS')`,
      `create unique index subscription_line_scheduled_unique on subscription (line_id) where status = 'SCHEDULED'`,
    ];
  }

  private async resolveDuplicates(): Promise<void> {
    // A migration has no clock but the wall's; the event of a cancelled plan carries its start.
    const now = new Date();
    const open = `status in ('ACKNOWLEDGED', 'IN_PROGRESS')`;
    const olderOpen = `select 1 from product_order k where k.line_id = o.line_id and k.${open} and (k.created_at < o.created_at or (k.created_at = o.created_at and k.id < o.id))`;
    const orders = (await this.execute(
      `select o.id, o.kind, o.line_id, o.billing_account_id,
         (select k.id from product_order k where k.line_id = o.line_id and k.${open} order by k.created_at, k.id limit 1) as kept_id
       from product_order o where o.${open} and exists (${olderOpen}) order by o.line_id, o.created_at, o.id`,
    )) as { id: string; kind: string; line_id: string; billing_account_id: string; kept_id: string }[];
    for (const o of orders) {
      const failure = { code: 'ORDER_ALREADY_OPEN', message: `Line ${o.line_id} already had open order ${o.kept_id}; this second open order was failed when one open order per line became enforced` };
      await this.execute(`update product_order set status = 'FAILED', failure_code = ?, failure_message = ?, updated_at = ? where id = ?`, [failure.code, failure.message, now, o.id]);
      await this.enqueue('productOrderStateChanged', o.id, [o.id, 'FAILED'], now, {
        orderId: o.id,
        kind: o.kind,
        status: 'FAILED',
        lineId: o.line_id,
        billingAccountId: o.billing_account_id,
        failureCode: failure.code,
        failureMessage: failure.message,
      });
    }

    const olderScheduled = `select 1 from subscription k where k.line_id = s.line_id and k.status = 'SCHEDULED' and (k.created_at < s.created_at or (k.created_at = s.created_at and k.id < s.id))`;
    const subs = (await this.execute(
      `select s.id, s.line_id, s.billing_account_id, s.plan_code, s.plan_version_id, s.starts_at, s.add_ons, l.msisdn, a.payment_mode, a.currency
       from subscription s join line l on l.id = s.line_id join billing_account a on a.id = s.billing_account_id
       where s.status = 'SCHEDULED' and exists (${olderScheduled}) order by s.line_id, s.created_at, s.id`,
    )) as { id: string; line_id: string; billing_account_id: string; plan_code: string; plan_version_id: string; starts_at: Date | number | string; add_ons: string; msisdn: string; payment_mode: string; currency: string }[];
    for (const s of subs) {
      await this.execute(`update subscription set status = 'ENDED', ends_at = starts_at where id = ?`, [s.id]);
      // PostgreSQL answers a Date, SQLite the stored epoch milliseconds.
      const startsAt = s.starts_at instanceof Date ? s.starts_at : new Date(typeof s.starts_at === 'string' && !/^\d+$/.test(s.starts_at) ? s.starts_at : Number(s.starts_at));
      const data: SubscriptionData = {
        subscriptionId: s.id,
        lineId: s.line_id,
        msisdn: s.msisdn,
        billingAccountId: s.billing_account_id,
        paymentMode: s.payment_mode as SubscriptionData['paymentMode'],
        currency: s.currency,
        planCode: s.plan_code,
        planVersionId: s.plan_version_id,
        status: 'ENDED',
        startsAt: startsAt.toISOString(),
        endsAt: startsAt.toISOString(),
        addOns: JSON.parse(s.add_ons) as SubscriptionData['addOns'],
      };
      // Dated at its start (as a plan change is dated when it takes effect): invoicing ends that segment there.
      await this.enqueue('subscriptionChanged', s.id, [s.id, 'ENDED', 'one-scheduled-per-line'], startsAt, data, now);
    }
  }

  /** The outbox row `enqueueEvent` would write (same id, subject and payload). */
  private async enqueue(name: 'productOrderStateChanged' | 'subscriptionChanged', subject: string, key: string[], time: Date, data: unknown, createdAt = time): Promise<void> {
    const def = EVENTS[name];
    const event = createCloudEvent({ source: 'ledgerline/subscribers', type: def.type, subject, time, data, key });
    await this.execute(`insert into outbox (id, subject, payload, created_at, attempts) values (?, ?, ?, ?, 0)`, [event.id, def.subject, JSON.stringify(event), createdAt]);
  }
}
