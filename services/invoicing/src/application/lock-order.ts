// The one order invoicing's use cases take their locks in. Each takes the locks it needs in this
// order and never one after a lock further down the list: two use cases then wait for each other at
// most one way round, never in a cycle. A cycle makes PostgreSQL fail one transaction (40P01,
// deadlock detected); a mutation's `mutate` and a consumer's batch run it again a few times
// (retryTransientFailures, counted in ledgerline_transaction_retries_total), a safety net, not a
// licence: a steady rate there is a path that breaks this order.
//
//   1. billing_account rows, FOR NO KEY UPDATE, in id order (`lockAccountsForBilling`, bill-accounts.ts):
//      whatever composes an account's invoice (a bill run's batch, a close, regenerate), changes what
//      a composing reads (a waiver) or updates the row (a subscribers batch: an account closed or
//      changed; it takes the rows of those accounts before it applies any event, consumer.ts).
//   2. credit:<account> (`lockAccountCredit`, `lockAccountsCredit` in id order, credit.ts; the account's
//      account_credit_lock row FOR UPDATE, not an advisory lock: a bill run's batch holds one per account
//      and PostgreSQL's shared lock table is too small for that): whatever reads or moves the account's credit
//      or may come to (issuing, a dispute or its decision, a credit note, a refund, a payment kept as
//      credit, regenerating a draft that bills a rerate adjustment).
//   3. one-off-charge:<id> (`lockOneOffChargeId`, one-off-charge-waivers.ts): a one-off's posting, a
//      refund of it and its waiver.
//   4. invoice rows (`lockInvoice`, invoice-lifecycle.ts); more than one invoice of an account only
//      under 2 (account credit paying several). A refund naming a one-off charge takes its charge's
//      issued invoice row (after 2 and 3, charge-given-back.ts) and reads that invoice's open disputes
//      under it, as openDispute reads the refunds under the same row: a refund and a dispute of the
//      invoice (of a line or of the whole invoice) are decided one after the other.
//   5. what hangs off them: one-off and usage charge rows, lines, payments, disputes, autopay attempts;
//      the document series counters (invoice_series) last.
//
// Before 1: a bill run's batch row (claimed), an agent's daily approval limit (approval-daily:*, the
// gates of approvals.ts, before the operation they let through). A request's key lock (idempotency:*,
// approval:dispute, bank-transaction) only ever queues the request's own retries, which take the same
// locks in the same order, so it may come at any point.
// Between 1 and 2: wallet-charge-held:<account> (wallet-charge-refused.ts), by the sweep of an account's
// held refused charges after its row; a hold of a charge `account_unknown` takes it alone.
// After 2: wallet-charge-named:<chargeId> (wallet-charge-refused.ts), by billing a refused charge; a hold of a
// message `not_a_cloud_event` naming that charge takes it alone.
import type { Em } from '@ledgerline/platform';
import { lockAccountsForBilling } from './bill-accounts';
import { lockAccountCredit } from './credit';

/** Locks 1 and 2 of the account, in that order: for a use case that may need both. */
export async function lockAccountAndCredit(em: Em, billingAccountId: string): Promise<void> {
  await lockAccountsForBilling(em, [billingAccountId]);
  await lockAccountCredit(em, billingAccountId);
}
