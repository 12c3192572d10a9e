import type { Sql } from '../persistence/sql';

/**
 * Which customer owns a billing account, and which partner it is assigned to (from subscribers'
 * billingaccount events), for the read authorization of usage's GraphQL (graphql/authorization.ts)
 * and the lines a partner may charge online (partner-lines.ts). `partnerId`: the partner (null: none);
 * undefined leaves it as it is (an event that does not carry it). Idempotent; an older event never
 * overwrites a newer one.
 */
export async function recordAccountOwner(sql: Sql, billingAccountId: string, customerId: string, at: Date, partnerId?: string | null): Promise<void> {
  await sql.query(
    `insert into account_owner (billing_account_id, customer_id, updated_at, partner_id) values ($1, $2, $3, $4)
     on conflict (billing_account_id) do update set customer_id = excluded.customer_id, updated_at = excluded.updated_at,
       partner_id = case when $5 then excluded.partner_id else account_owner.partner_id end
     where account_owner.updated_at <= excluded.updated_at`,
    [billingAccountId, customerId, at, partnerId ?? null, partnerId !== undefined],
  );
}
