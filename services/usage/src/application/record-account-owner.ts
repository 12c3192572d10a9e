import type { Sql } from '../persistence/sql';

/**
 * Which customer owns a billing account (from subscribers' billingaccount events), for the read
 * authorization of usage's GraphQL (graphql/authorization.ts). Idempotent; an older event never
 * overwrites a newer one.
 */
export async function recordAccountOwner(sql: Sql, billingAccountId: string, customerId: string, at: Date): Promise<void> {
  await sql.query(
    `insert into account_owner (billing_account_id, customer_id, updated_at) values ($1, $2, $3)
     on conflict (billing_account_id) do update set customer_id = excluded.customer_id, updated_at = excluded.updated_at
     where account_owner.updated_at <= excluded.updated_at`,
    [billingAccountId, customerId, at],
  );
}
