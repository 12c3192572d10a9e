import { PortableMigration } from '@ledgerline/platform';

/**
 * One open order and one scheduled plan change per line: placement checks both and locks the line
 * (PostgreSQL), and these partial unique indexes back those checks (rule 5), so a request that
 * slips past them anyway (another code path, SQLite, a bug) is refused with the coded CONFLICT
 * instead of doubling the line's plan or its lifecycle events. Same SQL on PostgreSQL and SQLite.
 */
export class Migration20261127000000_one_open_order_per_line extends PortableMigration {
  protected override statements(): string[] {
    return [
      `create unique index product_order_line_open_unique on product_order (line_id) where status in ('ACKNOWLEDGED', 'IN_PROGRESS')`,
      `create unique index subscription_line_scheduled_unique on subscription (line_id) where status = 'SCHEDULED'`,
    ];
  }
}
