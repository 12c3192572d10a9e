// Accounts-receivable aging (Query.receivablesAging, staff): what issued invoices of one currency still
// owe at `asOf`, by how long they are past due, with the part open disputes hold shown apart; totals;
// the credit accounts hold; and a per-account breakdown for collections. Set-based: each answer is one
// SQL statement over the whole book (no per-invoice loop), whatever its size.
//
// The book as it stood at asOf, from dated rows only (never from the invoice's running columns, which
// say how it stands now):
//   owed(asOf) = total
//              − Σ payment.applied_amount               payments recorded by asOf (account credit applied too: ACCOUNT_CREDIT)
//              + Σ (refund.amount − its kept-credit part) refunds by asOf took that much back off the invoice
//                                                        (the part out of the payment's kept credit is its REFUND credit entry)
//              + Σ CREDIT notes' credit entries          a CREDIT note on a paid part moves that part into account credit
//                + REFUND notes' credit entries          (a REFUND note's card refund refused after another went out, too)
//              − Σ CREDIT and REFUND notes' totals       notes by asOf (OFFSET notes only bring account credit: applied, it is a payment)
// which is the invoice's total − amount_paid − amount_credited once everything is counted (the test
// checks the two agree now). disputed(asOf) = Σ amount of its disputes opened by asOf and not closed
// by then (plus what they released after asOf, dispute_release), at most what is owed; open = owed −
// disputed. An invoice is in the report when it was issued by asOf, not voided by then, and owed > 0.
// Limits (STATUS.md): a dispute raised by staff later, or cut by a credit note later, has no dated row
// for the change (its amount now is used); a payment counts when it was recorded, not when the bank
// received it.
import { dec, minorUnits } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { bucketThresholds, decodeAgingCursor, encodeAgingCursor, type AgingAccountOrder, type AgingBucketDef } from '../domain/aging';
import { rows } from './sql';

export interface AgingQuery {
  asOf: Date;
  currency: string;
  buckets: AgingBucketDef[];
}

export interface AgingAmounts {
  openAmount: string;
  disputedAmount: string;
  invoiceCount: number;
}

export interface AgingBucketRow extends AgingBucketDef, AgingAmounts {
  accountCount: number;
}

export interface AgingAccountRow extends AgingAmounts {
  billingAccountId: string;
  customerName: string | null;
  oldestDueDate: Date;
  daysPastDue: number;
  buckets: (AgingAmounts & { label: string })[];
}

/**
 * The aged open invoices (CTE `aged`: id, billing_account_id, due, disputed, open, days, bucket). Its
 * parameters are written {as_of}, {cur} and {thresholds} (agingSql binds them where they stand, so the
 * planner sees the values: a one-row parameter CTE hid them and its estimates went astray).
 */
const AGED = `
  paid as (
    select y.invoice_id, sum(y.applied_amount) as amount
      from payment y
     where y.currency = {cur} and y.created_at <= {as_of} and y.invoice_id is not null
     group by y.invoice_id
  ),
  refunded as (
    select y.invoice_id, sum(r.amount + coalesce(e.amount, 0)) as amount
      from refund r join payment y on y.id = r.payment_id
      left join account_credit_entry e on e.source = 'REFUND' and e.source_id = r.id and e.billing_account_id = y.billing_account_id
     where r.currency = {cur} and r.created_at <= {as_of} and y.invoice_id is not null
     group by y.invoice_id
  ),
  credited as (
    select n.invoice_id,
           sum(case when n.kind in ('CREDIT', 'REFUND') then n.total else 0 end) as credited,
           sum(case when n.kind in ('CREDIT', 'REFUND') then coalesce(e.amount, 0) else 0 end) as moved
      from credit_note n
      left join account_credit_entry e on e.source = 'CREDIT_NOTE' and e.source_id = n.id and e.billing_account_id = n.billing_account_id
     where n.currency = {cur} and n.created_at <= {as_of}
     group by n.invoice_id
  ),
  disputed as (
    select d.invoice_id, sum(d.amount + coalesce((select sum(r.amount) from dispute_release r where r.dispute_id = d.id and r.released_at > {as_of}), 0)) as amount
      from dispute d
     where d.currency = {cur} and d.created_at <= {as_of} and (d.status in ('OPEN', 'IN_REVIEW') or coalesce(d.decided_at, d.updated_at) > {as_of})
     group by d.invoice_id
  ),
  owed as (
    select i.id, i.billing_account_id, coalesce(i.due_date, i.issued_at) as due,
           i.total - coalesce(paid.amount, 0) + coalesce(refunded.amount, 0) + coalesce(credited.moved, 0) - coalesce(credited.credited, 0) as owed,
           greatest(coalesce(disputed.amount, 0), 0) as disputed
      from invoice i
      left join paid on paid.invoice_id = i.id
      left join refunded on refunded.invoice_id = i.id
      left join credited on credited.invoice_id = i.id
      left join disputed on disputed.invoice_id = i.id
     where i.currency = {cur} and i.issued_at <= {as_of} and (i.voided_at is null or i.voided_at > {as_of})
  ),
  days as (
    select o.id, o.billing_account_id, o.due, least(o.disputed, o.owed) as disputed, o.owed - least(o.disputed, o.owed) as open,
           case when o.due >= {as_of} then 0 else ceil(extract(epoch from ({as_of} - o.due)) / 86400)::int end as days
      from owed o
     where o.owed > 0
  ),
  aged as (
    select d.*, width_bucket(d.days, {thresholds}) as bucket from days d
  )`;

/** `text` with its {as_of}, {cur} and {thresholds} bound to the query's (each where it stands), and its other `?` to `rest`, in order. */
function agingSql(text: string, q: AgingQuery, rest: unknown[] = []): [string, unknown[]] {
  const values: Record<string, [string, unknown]> = { as_of: ['?::timestamptz', q.asOf], cur: ['?::text', q.currency], thresholds: ['?::int[]', bucketThresholds(q.buckets)] };
  const bindings: unknown[] = [];
  let next = 0;
  const sqlText = text.replace(/\{(as_of|cur|thresholds)\}|\?/g, (m, name: string | undefined) => {
    if (name) {
      bindings.push(values[name]![1]);
      return values[name]![0];
    }
    bindings.push(rest[next++]);
    return '?';
  });
  return [sqlText, bindings];
}

const money = (amount: string | null | undefined, currency: string) => dec(String(amount ?? '0')).toFixed(minorUnits(currency));

/** Each bucket (all of them, empty ones too) and the totals: one statement. */
export async function agingBuckets(em: Em, q: AgingQuery): Promise<{ buckets: AgingBucketRow[]; total: AgingAmounts & { accountCount: number } }> {
  const found = await rows<{ bucket: number | null; open: string | null; disputed: string | null; invoices: string; accounts: string }>(
    em,
    ...agingSql(
      `with ${AGED}
       select bucket, sum(open)::text as open, sum(disputed)::text as disputed, count(*) as invoices, count(distinct billing_account_id) as accounts
         from aged group by grouping sets ((bucket), ())`,
      q,
    ),
  );
  const amounts = (r: (typeof found)[number] | undefined) => ({
    openAmount: money(r?.open, q.currency),
    disputedAmount: money(r?.disputed, q.currency),
    invoiceCount: Number(r?.invoices ?? 0),
    accountCount: Number(r?.accounts ?? 0),
  });
  return {
    buckets: q.buckets.map((b, i) => ({ ...b, ...amounts(found.find((r) => r.bucket !== null && Number(r.bucket) === i)) })),
    total: amounts(found.find((r) => r.bucket === null)),
  };
}

/** Credit the accounts hold in the currency at asOf (overpayments, credit notes, negative invoices, less what was applied or refunded). */
export async function agingAccountCredit(em: Em, q: AgingQuery): Promise<string> {
  const [r] = await rows<{ amount: string | null }>(em, 'select sum(amount)::text as amount from account_credit_entry where currency = ? and created_at <= ?', [q.currency, q.asOf]);
  return money(r?.amount, q.currency);
}

const ORDER: Record<AgingAccountOrder, { by: string; key: string; cursor: string }> = {
  // The longest past due first (oldest due date), then the largest; ties by account id.
  OLDEST_FIRST: { by: 'oldest_due, open desc, billing_account_id', key: '(oldest_due, -open, billing_account_id)', cursor: '(?::timestamptz, -(?::numeric), ?)' },
  // The largest open amount first (undisputed: what collections can chase), then the oldest.
  LARGEST_FIRST: { by: 'open desc, oldest_due, billing_account_id', key: '(-open, oldest_due, billing_account_id)', cursor: '(-(?::numeric), ?::timestamptz, ?)' },
};

/**
 * One page of the per-account breakdown (`limit + 1` rows: the extra one says there is more), each
 * account with its totals, oldest due date, days past due (its oldest invoice's) and amounts per
 * bucket; accounts at least `minDaysPastDue` past due. One statement.
 */
export async function agingAccounts(
  em: Em,
  q: AgingQuery,
  page: { order: AgingAccountOrder; limit: number; after?: string | null; minDaysPastDue?: number | null },
): Promise<{ rows: AgingAccountRow[]; cursorOf: (r: AgingAccountRow) => string }> {
  const order = ORDER[page.order];
  const after = page.after ? decodeAgingCursor(page.after, page.order) : null;
  const cursorBindings = after ? (page.order === 'OLDEST_FIRST' ? [after.oldestDue, after.open, after.billingAccountId] : [after.open, after.oldestDue, after.billingAccountId]) : [];
  const found = await rows<{ billing_account_id: string; customer_name: string | null; open: string; disputed: string; invoices: string; oldest_due: Date; oldest_due_key: string; days: number; buckets: { bucket: number; open: string; disputed: string; invoices: number }[] | string }>(
    em,
    ...agingSql(
      `with ${AGED},
     by_bucket as (
       select billing_account_id, bucket, sum(open) as open, sum(disputed) as disputed, count(*) as invoices, min(due) as oldest_due, max(days) as days
         from aged group by billing_account_id, bucket
     ),
     acct as (
       select billing_account_id, sum(open) as open, sum(disputed) as disputed, sum(invoices) as invoices, min(oldest_due) as oldest_due, max(days) as days
         from by_bucket group by billing_account_id having max(days) >= ?
     ),
     page as (
       select * from acct ${after ? `where ${order.key} > ${order.cursor}` : ''} order by ${order.by} limit ?
     ),
     result as (
       select page.billing_account_id, page.open, page.disputed, page.invoices, page.oldest_due, page.days, a.customer_name,
              json_agg(json_build_object('bucket', b.bucket, 'open', b.open::text, 'disputed', b.disputed::text, 'invoices', b.invoices) order by b.bucket) as buckets
         from page join by_bucket b on b.billing_account_id = page.billing_account_id
         left join billing_account a on a.id = page.billing_account_id
        group by page.billing_account_id, page.open, page.disputed, page.invoices, page.oldest_due, page.days, a.customer_name
     )
     select billing_account_id, customer_name, open::text as open, disputed::text as disputed, invoices, oldest_due,
            to_char(oldest_due at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as oldest_due_key, days, buckets
       from result
      order by ${order.by}`,
      q,
      [page.minDaysPastDue ?? 0, ...cursorBindings, page.limit + 1],
    ),
  );
  const keys = new Map<AgingAccountRow, { oldestDue: string; open: string }>();
  const out = found.map((r) => {
    const buckets = typeof r.buckets === 'string' ? JSON.parse(r.buckets) : (r.buckets ?? []);
    const row: AgingAccountRow = {
      billingAccountId: r.billing_account_id,
      customerName: r.customer_name,
      openAmount: money(r.open, q.currency),
      disputedAmount: money(r.disputed, q.currency),
      invoiceCount: Number(r.invoices),
      oldestDueDate: new Date(r.oldest_due),
      daysPastDue: Number(r.days),
      buckets: (buckets as { bucket: number; open: string; disputed: string; invoices: number }[]).map((b) => ({
        label: q.buckets[Number(b.bucket)]!.label,
        openAmount: money(b.open, q.currency),
        disputedAmount: money(b.disputed, q.currency),
        invoiceCount: Number(b.invoices),
      })),
    };
    keys.set(row, { oldestDue: r.oldest_due_key, open: dec(String(r.open)).toFixed() });
    return row;
  });
  return { rows: out, cursorOf: (r) => encodeAgingCursor({ order: page.order, ...keys.get(r)!, billingAccountId: r.billingAccountId }) };
}
