import type { Sql } from '../persistence/sql';

/** The partner a billingaccount event assigns the account to, and which assignment it is. */
export interface PartnerAssignment {
  /** The partner (an MVNO); null: none, the operator's own. */
  partnerId: string | null;
  /** Subscribers' billing_account.partner_version: 0 as opened, one more per change of the partner. */
  version: number;
}

/**
 * The account's terms a billingaccount.created carries that usage keeps for spend alerts (its currency, and the bill
 * period: bill-cycle day in its time zone). They never change for an account: a later event's fill what is missing.
 */
export interface AccountTerms {
  currency?: string;
  billCycleDay?: number;
  timezone?: string;
}

/**
 * Which customer owns a billing account, and which partner it is assigned to (from subscribers'
 * billingaccount events), for the read authorization of usage's GraphQL (graphql/authorization.ts)
 * and the lines a partner may charge online (partner-lines.ts). Idempotent, and in any order:
 * the customer is the one of the latest event (its time), the partner that of the highest
 * `partner.version` read (an event that carries none leaves it as it is). Versions, not times,
 * order partner changes: subscribers may make two at one instant, and an older one redelivered
 * (or overtaken) never takes a newer one back; at an equal version the partner is the same.
 */
export async function recordAccountOwner(sql: Sql, billingAccountId: string, customerId: string, at: Date, partner?: PartnerAssignment, terms: AccountTerms = {}): Promise<void> {
  await sql.query(
    `insert into account_owner (billing_account_id, customer_id, updated_at, partner_id, partner_version, currency, bill_cycle_day, timezone) values ($1, $2, $3, $4, $5, $7, $8, $9)
     on conflict (billing_account_id) do update set
       currency = coalesce(account_owner.currency, excluded.currency),
       bill_cycle_day = coalesce(account_owner.bill_cycle_day, excluded.bill_cycle_day),
       timezone = coalesce(account_owner.timezone, excluded.timezone),
       customer_id = case when account_owner.updated_at <= excluded.updated_at then excluded.customer_id else account_owner.customer_id end,
       updated_at = greatest(account_owner.updated_at, excluded.updated_at),
       partner_id = case when $6 and excluded.partner_version >= account_owner.partner_version then excluded.partner_id else account_owner.partner_id end,
       partner_version = case when $6 then greatest(account_owner.partner_version, excluded.partner_version) else account_owner.partner_version end`,
    [billingAccountId, customerId, at, partner?.partnerId ?? null, partner?.version ?? 0, partner !== undefined, terms.currency ?? null, terms.billCycleDay ?? null, terms.timezone ?? null],
  );
}

/**
 * Fills in the terms an account's row lacks (accounts whose billingaccount.created `owners` read before it kept terms,
 * 2027-01-31): only where the row is there and a term is missing, so terms already known are never replaced and an
 * account not recorded yet is left to `owners` (its created event carries them). Returns whether it filled any.
 */
export async function fillAccountTerms(sql: Sql, billingAccountId: string, terms: AccountTerms): Promise<boolean> {
  const { rowCount } = await sql.query(
    `update account_owner set currency = coalesce(currency, $2), bill_cycle_day = coalesce(bill_cycle_day, $3), timezone = coalesce(timezone, $4)
      where billing_account_id = $1
        and ((currency is null and $2::text is not null) or (bill_cycle_day is null and $3::int is not null) or (timezone is null and $4::text is not null))`,
    [billingAccountId, terms.currency ?? null, terms.billCycleDay ?? null, terms.timezone ?? null],
  );
  return (rowCount ?? 0) > 0;
}
