import type { Sql } from '../persistence/sql';

/**
 * Which lines a partner may charge online: those of its own customers. A billing account is assigned to a partner
 * when it is opened (subscribers' `openBillingAccount` input `partnerId`, staff only; billingaccount.created carries
 * it and the `owners` consumer keeps it in `account_owner.partner_id`), as an MVNO's customers are that MVNO's. A
 * PARTNER's own charging requests may charge a line only while the billing account its subscription bills (at the
 * request's time) is assigned to that partner; for any other line they are answered as for a line usage does not
 * know (charging-session.ts), so a partner learns nothing of lines that are not its customers'. The platform
 * (SYSTEM, ADMIN, network elements over NATS, also when they name a partner's session) charges any line.
 * An account opened before partners were recorded, or whose billingaccount.created usage has not read yet, is no
 * partner's.
 */
export async function partnerMayCharge(sql: Sql, partnerId: string, billingAccountId: string): Promise<boolean> {
  const { rows } = await sql.query('select 1 from account_owner where billing_account_id = $1 and partner_id = $2', [billingAccountId, partnerId]);
  return rows.length > 0;
}

/**
 * The same rule for a batch of offline records (a partner's `recordUsage` with the OWN_CUSTOMERS entitlement, see
 * UsagePipeline.partnerRejections): the partner each of these accounts is assigned to, in one statement. An account
 * missing from the answer is no partner's (partnerMayCharge is false for every partner), as one whose partner is null.
 */
export async function partnersOfAccounts(sql: Sql, billingAccountIds: string[]): Promise<Map<string, string>> {
  const { rows } = await sql.query<{ billing_account_id: string; partner_id: string }>(
    'select billing_account_id, partner_id from account_owner where billing_account_id = any($1::text[]) and partner_id is not null',
    [billingAccountIds],
  );
  return new Map(rows.map((r) => [r.billing_account_id, r.partner_id]));
}
