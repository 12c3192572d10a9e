import { accountIdSql, keyScopeSql, minorUnitSql } from '../application/ledger';
import type { Db } from './sql';

/** Something that runs SQL: a MikroORM entity manager (`em.getConnection().execute`) or our `Sql`. */
type Executor = { getConnection(): { execute(sql: string): Promise<any> } } | { query(text: string): Promise<any[]> };

async function run(x: Executor, text: string): Promise<any[]> {
  if ('query' in x) return x.query(text);
  return x.getConnection().execute(text);
}

/** The checks, by name (one failure line per check that finds rows). */
export const LEDGER_CHECKS: readonly { name: string; sql: string }[] = [
  { name: 'every ledger transaction sums to zero per unit', sql: `select transaction_id, unit, sum(amount) as total from ledger_entry group by 1, 2 having sum(amount) <> 0 limit 5` },
  {
    name: 'every kept account balance equals the sum of its entries',
    sql: `select a.id, a.balance, coalesce(e.total, 0) as total from ledger_account a left join (select account_id, sum(amount) as total from ledger_entry group by 1) e on e.account_id = a.id where a.balance <> coalesce(e.total, 0) limit 5`,
  },
  {
    // Their balance is the sum of their entries, summed when asked (ADR 0018).
    name: 'sink accounts (REVENUE, ALLOWANCE_USED) keep no balance, every other account keeps one',
    sql: `select id, kind, balance from ledger_account where (kind in ('REVENUE', 'ALLOWANCE_USED')) <> (balance is null) limit 5`,
  },
  {
    name: 'every entry has its account and its transaction',
    sql: `select e.id from ledger_entry e where not exists (select 1 from ledger_account a where a.id = e.account_id) or not exists (select 1 from ledger_transaction t where t.id = e.transaction_id) limit 5`,
  },
  { name: 'every entry is in its account unit', sql: `select e.id from ledger_entry e join ledger_account a on a.id = e.account_id where a.unit <> e.unit limit 5` },
  { name: 'no prepaid wallet below zero beyond its overdraft', sql: `select w.id, a.balance from wallet w join ledger_account a on a.id = w.id where w.payment_mode = 'PREPAID' and a.balance < -w.overdraft_limit limit 5` },
  {
    // What charging guarantees: each charge or reservation that raises what an account owes is
    // decided under its wallet's lock against the credit limit in force then, and leaves it at or
    // below that limit. A limit lowered later below what is already unbilled is accepted on purpose
    // (it refuses new charges, takes nothing back), so "unbilled <= today's limit" is not an
    // invariant. The limit in force at an entry: the previous limit of the first change recorded
    // after it (credit_limit_change.from_entry >= the entry), else the wallet's current limit.
    // Entries of a wallet's UNBILLED_RECEIVABLE are written under its lock, so id order is the
    // order they were decided in, and the running sum is what was unbilled after each.
    name: 'no postpaid charge took what is unbilled beyond the credit limit in force when it was made',
    sql: `select wallet_id, entry_id, unbilled, credit_limit from (
            select e.wallet_id, e.entry_id, e.amount, e.unbilled, case when later.found then later.previous_limit else e.current_limit end as credit_limit
            from (
              select w.id as wallet_id, w.credit_limit as current_limit, le.id as entry_id, le.amount, -sum(le.amount) over (partition by le.account_id order by le.id) as unbilled
              from wallet w join ledger_entry le on le.account_id = ${accountIdSql('w.billing_account_id', 'UNBILLED_RECEIVABLE', 'w.currency')}
            ) e
            left join lateral (
              select true as found, c.previous_limit from credit_limit_change c where c.wallet_id = e.wallet_id and c.from_entry >= e.entry_id order by c.from_entry, c.id limit 1
            ) later on true
          ) x
          where amount < 0 and credit_limit is not null and unbilled > credit_limit limit 5`,
  },
  { name: 'no bucket below zero', sql: `select b.id from bucket b join ledger_account a on a.id = b.id where a.balance < 0 limit 5` },
  {
    name: 'money held in RESERVED equals the open reservations',
    sql: `select a.id, a.balance, coalesce(r.total, 0) as open from ledger_account a
          left join (select ${accountIdSql('rv.billing_account_id', 'RESERVED', 'w.currency')} as id, sum(rv.money_reserved) as total from reservation rv join wallet w on w.id = rv.wallet_id where rv.status = 'RESERVED' group by 1) r on r.id = a.id
          where a.kind = 'RESERVED' and exists (select 1 from wallet w2 where w2.currency = a.unit) and a.balance <> coalesce(r.total, 0) limit 5`,
  },
  {
    // Allowance units a reservation holds sit in RESERVED:<unit> (its bucket parts) until it is closed.
    name: 'allowance units held in RESERVED equal the open reservations',
    sql: `select a.id, a.balance, coalesce(r.total, 0) as open from ledger_account a
          left join (select ${accountIdSql('rv.billing_account_id', 'RESERVED', 'rv.unit')} as id, sum(rv.units_from_buckets) as total from reservation rv where rv.status = 'RESERVED' group by 1) r on r.id = a.id
          where a.kind = 'RESERVED' and not exists (select 1 from wallet w2 where w2.currency = a.unit) and a.balance <> coalesce(r.total, 0) limit 5`,
  },
  {
    name: 'every budget replenishment is in the ledger, and the budget receivable is what was replenished',
    sql: `select r.id from budget_replenishment r left join ledger_transaction t on t.id = r.transaction_id where t.id is null
          union all
          select a.id from ledger_account a left join (select billing_account_id || ':BUDGET_RECEIVABLE:' || currency as id, sum(amount) as total from budget_replenishment group by 1) r on r.id = a.id
          where a.kind = 'BUDGET_RECEIVABLE' and a.balance <> -coalesce(r.total, 0) limit 5`,
  },
  {
    name: "every wallet's rule flags are what its rule tables say (kept by triggers; charging reads the flags)",
    sql: `select w.id from wallet w left join budget b on b.wallet_id = w.id and b.enabled
          where w.budget_committed is distinct from b.committed
             or w.has_balance_rules <> (b.committed is not null or exists (select 1 from auto_topup_rule r where r.wallet_id = w.id and r.enabled)) limit 5`,
  },
  {
    // The expiry job forfeits what an ended bucket has left (bucket → ALLOWANCE_EXPIRED) when it marks it
    // EXPIRED, after the late-usage grace (ADR 0008; before that it is ACTIVE in the table and only shows as
    // EXPIRED); a revoke takes what is left back (bucket → ALLOWANCE_GRANTED) when it marks it REVOKED. Units a
    // reservation gives back to such a bucket later go to ALLOWANCE_EXPIRED or roll over, never stay in it.
    name: 'EXPIRED and REVOKED buckets hold nothing',
    sql: `select b.id, b.status, a.balance from bucket b join ledger_account a on a.id = b.id where b.status in ('EXPIRED', 'REVOKED') and a.balance <> 0 limit 5`,
  },
  {
    // What the ledger says was used of a bucket: drawn by charges (bucket → ALLOWANCE_USED; a rerate
    // ADJUSTMENT's give-back is the opposite entry, ADR 0019), plus what closed reservations used of the units
    // they held of it (RESERVED → ALLOWANCE_USED, taken from the reservation's bucket parts in their order, as
    // closeMany takes them). Grants, rollovers, holds, expiry and revokes move units but use none.
    // A give-back takes back at most what the bucket used (ADR 0019), so neither goes below zero.
    name: "every bucket's used_quantity is what the ledger says was used of it, and not below zero",
    sql: `with drawn as (
            select e.account_id as id, -sum(e.amount) as units from bucket b join ledger_entry e on e.account_id = b.id join ledger_transaction t on t.id = e.transaction_id
             where t.kind = 'CHARGE' group by 1),
          closes as (
            select r.id, r.bucket_parts,
                   coalesce((select sum(e.amount) from ledger_transaction t join ledger_entry e on e.transaction_id = t.id
                              where t.idempotency_key = 'CLOSE:' || r.id and e.account_id = ${accountIdSql('r.billing_account_id', 'ALLOWANCE_USED', 'r.unit')}), 0) as taken
              from reservation r where r.status <> 'RESERVED' and jsonb_array_length(r.bucket_parts) > 0),
          parts as (
            select p.value->>'bucketId' as id, (p.value->>'units')::numeric as units, c.taken,
                   coalesce(sum((p.value->>'units')::numeric) over (partition by c.id order by p.ord rows between unbounded preceding and 1 preceding), 0) as before
              from closes c, jsonb_array_elements(c.bucket_parts) with ordinality p(value, ord)),
          committed as (select id, sum(least(units, greatest(taken - before, 0))) as units from parts group by 1)
          select b.id, b.used_quantity, coalesce(d.units, 0) + coalesce(c.units, 0) as ledger from bucket b left join drawn d on d.id = b.id left join committed c on c.id = b.id
           where b.used_quantity <> coalesce(d.units, 0) + coalesce(c.units, 0) or b.used_quantity < 0 limit 5`,
  },
  {
    // A charge (usage or a rerate ADJUSTMENT: both are CHARGE transactions) keeps its decision in `outcome`:
    // DENIED moved nothing; APPLIED / PARTIAL moved `amountCharged` into REVENUE (negative: a credit) from the
    // wallet or the unbilled receivable, and `unitsFromAllowances` from buckets into ALLOWANCE_USED (an
    // adjustment's: drawn minus given back). Rows written before decisions were kept hold a whole
    // ChargeResult, whose fields have the same names.
    name: "every charge's stored outcome is what its entries moved",
    // Per transaction by its entries' index (a lateral read): one aggregate over every CHARGE's entries ran for
    // over ten minutes on the charging benchmark's ledger when nothing was wrong (no early LIMIT).
    sql: `select t.id, t.outcome->>'outcome' as outcome, t.outcome->>'amountCharged' as amount, t.outcome->>'unitsFromAllowances' as units, m.entries, m.money, m.used, m.others
            from ledger_transaction t
            cross join lateral (select count(*) as entries, sum(e.amount) filter (where a.kind = 'REVENUE') as money, sum(e.amount) filter (where a.kind = 'ALLOWANCE_USED') as used,
                                       count(*) filter (where a.kind not in ('CASH_WALLET', 'UNBILLED_RECEIVABLE', 'REVENUE', 'UNIT_BUCKET', 'ALLOWANCE_USED')) as others
                                  from ledger_entry e join ledger_account a on a.id = e.account_id where e.transaction_id = t.id) m
           where t.kind = 'CHARGE'
             and (coalesce(t.outcome->>'outcome', '') not in ('APPLIED', 'PARTIAL', 'DENIED')
              or (t.outcome->>'outcome' = 'DENIED' and m.entries > 0)
              or (case when t.outcome->>'amountCharged' ~ '^-?[0-9]+([.][0-9]+)?$' then (t.outcome->>'amountCharged')::numeric end) is distinct from coalesce(m.money, 0)
              or (case when t.outcome->>'unitsFromAllowances' ~ '^-?[0-9]+([.][0-9]+)?$' then (t.outcome->>'unitsFromAllowances')::numeric end) is distinct from coalesce(m.used, 0)
              or m.others > 0)
           limit 5`,
  },
  {
    // An agent's adjustment (adjustBalance): one balance_adjustment row per ADJUSTMENT transaction, its amount
    // what moved the wallet (or what a postpaid account owes) against ADJUSTMENTS, in two entries.
    name: "every agent adjustment's amount is what its transaction moved",
    sql: `select t.id, ba.id as adjustment, ba.amount, m.contra, m.entries from ledger_transaction t
            left join balance_adjustment ba on ba.transaction_id = t.id
            cross join lateral (select count(*) as entries, sum(e.amount) filter (where a.kind = 'ADJUSTMENTS') as contra
                                  from ledger_entry e join ledger_account a on a.id = e.account_id where e.transaction_id = t.id) m
           where t.kind = 'ADJUSTMENT' and (ba.id is null or coalesce(m.entries, 0) <> 2 or ba.amount <> -coalesce(m.contra, 0))
          union all
          select ba.transaction_id, ba.id, ba.amount, null, null from balance_adjustment ba left join ledger_transaction t on t.id = ba.transaction_id where t.id is null or t.kind <> 'ADJUSTMENT'
          limit 5`,
  },
  {
    // payOutWalletBalance: one wallet_payout row per PAYOUT transaction, which moved exactly its amount out of the
    // wallet it names (− wallet, + PAYMENTS_CLEARING, two entries), and only from a settled wallet.
    name: 'every payout moved its amount out of its settled wallet, once',
    sql: `select t.id, p.id as payout, p.amount, m.out, m.entries, w.settled_at from ledger_transaction t
            left join wallet_payout p on p.transaction_id = t.id
            left join wallet w on w.id = p.wallet_id
            cross join lateral (select count(*) as entries, sum(e.amount) filter (where e.account_id = p.wallet_id) as out
                                  from ledger_entry e where e.transaction_id = t.id) m
           where t.kind = 'PAYOUT' and (p.id is null or m.entries <> 2 or m.out is distinct from -p.amount or w.settled_at is null or w.settled_at > p.created_at)
          union all
          select p.transaction_id, p.id, p.amount, null, null, null from wallet_payout p left join ledger_transaction t on t.id = p.transaction_id where t.id is null or t.kind <> 'PAYOUT'
          limit 5`,
  },
  {
    // returnPayout: a PAYOUT_RETURN transaction is the return of exactly one payout (its return_transaction_id),
    // moving that payout's whole amount back onto its wallet (+ wallet, − PAYMENTS_CLEARING, two entries), after the
    // payout; and a payout marked returned names such a transaction.
    name: 'every returned payout came back onto its wallet, once',
    sql: `select t.id, p.id as payout, p.amount, m.back, m.entries from ledger_transaction t
            left join wallet_payout p on p.return_transaction_id = t.id
            cross join lateral (select count(*) as entries, sum(e.amount) filter (where e.account_id = p.wallet_id) as back
                                  from ledger_entry e where e.transaction_id = t.id) m
           where t.kind = 'PAYOUT_RETURN' and (p.id is null or m.entries <> 2 or m.back is distinct from p.amount or p.returned_at < p.created_at)
          union all
          select p.return_transaction_id, p.id, p.amount, null, null from wallet_payout p left join ledger_transaction t on t.id = p.return_transaction_id
           where (p.returned_at is null) <> (p.return_transaction_id is null) or (p.return_transaction_id is not null and (t.id is null or t.kind <> 'PAYOUT_RETURN'))
          limit 5`,
  },
  {
    // A payout of whole minor units that leaves less than one on a settled wallet, or a settlement of a wallet
    // holding less than one either way, writes that residue off to the account's ROUNDING account in the same
    // transaction (write-off-rounding.ts): no payout can take it and a settled wallet takes no adjustment, so
    // it would stay there for ever. A settled wallet's balance only moves by payouts and returned payouts
    // (whole minor units) after that, so it is never left with a residue.
    name: 'a settled wallet holds no sub-minor residue (it is written off to ROUNDING)',
    sql: `select w.id, w.currency, a.balance from wallet w join ledger_account a on a.id = w.id
           where w.settled_at is not null and a.balance <> 0 and abs(a.balance) < ${minorUnitSql('w.currency')} limit 5`,
  },
  {
    // ROUNDING_WRITE_OFF: reference = the wallet, key ROUNDING_WRITE_OFF:<wallet>:<settledAt> (once per settled
    // wallet), two entries (the wallet and its account's ROUNDING account in its currency), moving less than a
    // minor unit, not nothing, at or after the settlement; and nothing else moves a ROUNDING account.
    name: "every rounding write-off moved less than a minor unit of its settled wallet to its ROUNDING account, once; nothing else moves a ROUNDING account",
    sql: `select t.id, t.reference as wallet, m.entries, m.moved, m.rounding, w.settled_at from ledger_transaction t
            left join wallet w on w.id = t.reference
            cross join lateral (select count(*) as entries, sum(e.amount) filter (where e.account_id = w.id) as moved,
                                       count(*) filter (where e.account_id = ${accountIdSql('w.billing_account_id', 'ROUNDING', 'w.currency')}) as rounding
                                  from ledger_entry e where e.transaction_id = t.id) m
           where t.kind = 'ROUNDING_WRITE_OFF'
             and (w.id is null or w.settled_at is null or w.settled_at > t.created_at or m.entries <> 2 or m.rounding <> 1
              or coalesce(m.moved, 0) = 0 or abs(m.moved) >= ${minorUnitSql('w.currency')}
              or t.idempotency_key <> 'ROUNDING_WRITE_OFF:' || w.id || ':' || to_char(w.settled_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
          union all
          select t.id, a.id, null, e.amount, null, null from ledger_account a join ledger_entry e on e.account_id = a.id join ledger_transaction t on t.id = e.transaction_id
           where a.kind = 'ROUNDING' and t.kind <> 'ROUNDING_WRITE_OFF'
          limit 5`,
  },
  {
    // wallet.settled handed a closed wallet's final balance to finance: from then on only the payout side moves it
    // (payouts, returned payouts, rounding write-offs, and credits owed to the customer that arrived late:
    // CREDIT_OWED, closed-wallet-moves.ts, which only ever add). A late charge is refused, a late credit owed.
    name: 'after its settlement a wallet moves only by payouts, returned payouts, rounding write-offs and owed credits',
    sql: `select t.id, t.kind, w.id as wallet, w.settled_at, e.amount from wallet w
            join ledger_entry e on e.account_id = w.id and e.created_at > w.settled_at
            join ledger_transaction t on t.id = e.transaction_id
           where w.settled_at is not null
             and (t.kind not in ('PAYOUT', 'PAYOUT_RETURN', 'ROUNDING_WRITE_OFF', 'CREDIT_OWED') or (t.kind = 'CREDIT_OWED' and e.amount <= 0))
          limit 5`,
  },
  {
    // CREDIT_OWED: two entries, + a wallet settled at or before it, − that wallet's account's REVENUE in its currency.
    name: 'every owed credit moved revenue onto a wallet already settled',
    sql: `select t.id, m.entries, m.wallet, m.revenue, m.settled_at from ledger_transaction t
            cross join lateral (select count(*) as entries, max(w.id) as wallet, max(w.settled_at) as settled_at, sum(e.amount) filter (where w.id is not null) as credited,
                                       count(*) filter (where e.account_id = ${accountIdSql('t.billing_account_id', 'REVENUE', 'e.unit')} and e.amount < 0) as revenue
                                  from ledger_entry e left join wallet w on w.id = e.account_id and w.billing_account_id = t.billing_account_id
                                 where e.transaction_id = t.id) m
           where t.kind = 'CREDIT_OWED' and (m.entries <> 2 or m.wallet is null or m.revenue <> 1 or m.credited <= 0 or m.settled_at is null or m.settled_at > t.created_at)
          limit 5`,
  },
  {
    // redeemVoucher credits the voucher's face value (creditWallet: kind VOUCHER, reference = the voucher id, two
    // entries: + the wallet, − VOUCHER_CLEARING) and marks the voucher REDEEMED with that wallet and transaction, in
    // one DB transaction. So: a REDEEMED voucher has exactly one VOUCHER transaction, the one it names, crediting
    // exactly its amount in its currency to the wallet it names (a wallet of that currency of the transaction's
    // account); any other voucher has none; and every VOUCHER transaction names a voucher. Set-based: one pass
    // over the VOUCHER transactions (grouped) joined to the vouchers, entries read by index per redeemed voucher.
    name: 'every redeemed voucher was credited once, its face value in its currency to its wallet; no other voucher was credited',
    sql: `with redemptions as (select t.reference as voucher_id, count(*) as transactions, min(t.id) as first_id from ledger_transaction t where t.kind = 'VOUCHER' group by 1)
          select * from (
            select coalesce(v.id, r.voucher_id) as voucher, v.status, v.amount, v.currency, v.redeemed_wallet_id as wallet, v.transaction_id, coalesce(r.transactions, 0) as transactions, c.credited, c.unit,
                   case when v.id is null then 'a VOUCHER transaction names no voucher'
                        when r.transactions > 1 then 'redeemed more than once'
                        when v.status <> 'REDEEMED' and r.transactions is not null then 'credited but not marked REDEEMED'
                        when v.status = 'REDEEMED' and r.transactions is null then 'REDEEMED without a VOUCHER transaction'
                        when v.status <> 'REDEEMED' then null
                        when r.first_id is distinct from v.transaction_id then 'its transaction_id is not its VOUCHER transaction'
                        when w.id is null or w.currency <> v.currency or w.billing_account_id is distinct from c.account then 'credited wallet is not a wallet of its currency of the redeeming account'
                        when c.entries <> 2 or c.unit is distinct from v.currency or c.credited is distinct from v.amount then 'amount credited to its wallet is not its face value'
                   end as problem
              from voucher v
              full join redemptions r on r.voucher_id = v.id
              left join wallet w on w.id = v.redeemed_wallet_id
              left join lateral (select count(*) as entries, sum(e.amount) filter (where e.account_id = v.redeemed_wallet_id) as credited, min(e.unit) filter (where e.account_id = v.redeemed_wallet_id) as unit,
                                        (select t.billing_account_id from ledger_transaction t where t.id = v.transaction_id) as account
                                   from ledger_entry e where v.status = 'REDEEMED' and e.transaction_id = v.transaction_id) c on true
          ) x where problem is not null limit 5`,
  },
  {
    // A recharge is credited under its own top-up key of its account: `TOPUP@<account>:recharge:<id>` (bank transfer,
    // confirmBankTransfer, in the transaction that marks it COMPLETED) or `TOPUP@<account>:recharge-<id>:creditWallet`
    // (card: the Recharge workflow's credit, before the workflow ends and the recharge is settled); credits written
    // before keys were scoped per account have them as `TOPUP:recharge:<id>` / `TOPUP:recharge-<id>:creditWallet`. COMPLETED: exactly one such credit,
    // of exactly its amount in its currency, to its wallet. Pending bank transfers and DECLINED / FAILED / REFUNDED
    // recharges: none (a TOPUP_KEY_CLOSED row moves no money). An open card recharge (STARTING / STARTED) may
    // already hold its credit (the workflow credits, then the recharge is settled), of its amount too. A REFUND_FAILED
    // recharge staff resolved CREDITED (resolveRefundFailedRecharge) is credited once under `…:recharge-<id>:resolveRefundFailed`
    // (and so, with the workflow's credit key, never twice); REFUND_FAILED and RESOLVED REFUNDED_OUTSIDE: none.
    // Index lookups per recharge by the unique idempotency key (its five spellings).
    name: "every completed recharge was credited exactly its amount to its wallet once; a pending or failed one was not credited",
    sql: `select * from (
            select r.id as recharge, r.status, r.resolution, r.method, r.amount, r.currency, r.wallet_id as wallet, c.transactions, c.entries, c.credited, c.unit,
                   case when c.transactions > 1 then 'credited more than once'
                        when r.status = 'COMPLETED' and c.transactions = 0 then 'COMPLETED without a credit'
                        when r.status = 'RESOLVED' and r.resolution = 'CREDITED' and c.transactions = 0 then 'resolved CREDITED without a credit'
                        when r.status = 'RESOLVED' and r.resolution = 'CREDITED' and c.transaction_id is distinct from r.resolution_transaction_id then 'resolved CREDITED by another transaction than its credit'
                        when r.status not in ('COMPLETED', 'STARTING', 'STARTED') and not (r.status = 'RESOLVED' and r.resolution = 'CREDITED') and c.transactions > 0 then r.status || coalesce(' ' || r.resolution, '') || ' but credited'
                        when c.transactions = 1 and (c.entries <> 2 or c.unit is distinct from r.currency or c.credited is distinct from r.amount) then 'amount credited to its wallet is not its amount'
                   end as problem
              from recharge r
              cross join lateral (select count(distinct t.id) as transactions, min(t.id) as transaction_id, count(e.id) as entries, sum(e.amount) filter (where e.account_id = r.wallet_id) as credited, min(e.unit) filter (where e.account_id = r.wallet_id) as unit
                                    from ledger_transaction t left join ledger_entry e on e.transaction_id = t.id
                                   where t.idempotency_key in ('TOPUP:recharge:' || r.id, 'TOPUP:recharge-' || r.id || ':creditWallet',
                                                               'TOPUP@' || ${keyScopeSql('r.billing_account_id')} || ':recharge:' || r.id,
                                                               'TOPUP@' || ${keyScopeSql('r.billing_account_id')} || ':recharge-' || r.id || ':creditWallet',
                                                               'TOPUP@' || ${keyScopeSql('r.billing_account_id')} || ':recharge-' || r.id || ':resolveRefundFailed') and t.kind = 'TOPUP') c
          ) x where problem is not null limit 5`,
  },
  {
    // Turning auto top-up off cancels a card recharge only while its capture has not begun (cancelStartedRecharges),
    // and a capture begins only on a recharge not cancelled (beginRechargeStep): never both. A recharge is CANCELLED
    // only once cancelled, and its request then too (settleRecharge leaves it CANCELLED).
    name: 'no card recharge is both cancelled and captured; a CANCELLED recharge was cancelled, and so was its request',
    sql: `select r.id, r.status, r.cancelled_at, r.capture_started_at, q.status as request_status from recharge r
            left join topup_request q on q.recharge_id = r.id
           where (r.cancelled_at is not null and r.capture_started_at is not null)
              or (r.status = 'CANCELLED' and (r.cancelled_at is null or q.status is distinct from 'CANCELLED'))
          limit 5`,
  },
  {
    // An auto top-up request is COMPLETED when the recharge it started is (settleRecharge / linkRecharge, same
    // statement); the recharge is made for the request's amount, so its credit (checked above) is the request's
    // amount. A REFUND_FAILED recharge staff resolved CREDITED completes its request too (resolveRefundFailedRecharge,
    // same transaction), credited the recharge's amount. A request with no recharge_id (made before the link existed, or a test's fixture) names no credit
    // and is not checked.
    name: "every completed top-up request's recharge is completed (or resolved CREDITED), for the request's amount",
    sql: `select q.id as topup_request, q.status, q.amount, q.currency, q.recharge_id, r.status as recharge_status, r.amount as recharge_amount, r.currency as recharge_currency
            from topup_request q join recharge r on r.id = q.recharge_id
           where (q.status = 'COMPLETED') <> (r.status = 'COMPLETED' or (r.status = 'RESOLVED' and r.resolution = 'CREDITED')) or r.amount <> q.amount or r.currency <> q.currency
           limit 5`,
  },
];

/**
 * The ledger's invariants; returns the violations (empty when all hold). Integration tests run
 * it after every test; operators can run it against a live database.
 */
export async function checkLedgerInvariants(x: Executor | Db): Promise<string[]> {
  // On the service's own pool: one snapshot for every check, and sequential scans back on. The pool
  // turns them off for its by-key statements (sql.ts); a whole-ledger audit planned without them ran
  // the charge-outcome check for over 12 minutes on the charging benchmark's ledger.
  if ('pool' in x && 'tx' in x) {
    return x.tx(async (sql) => {
      await sql.query('set transaction isolation level repeatable read, read only');
      await sql.query('set local enable_seqscan = on');
      return runChecks(sql);
    });
  }
  return runChecks(x);
}

async function runChecks(x: Executor): Promise<string[]> {
  const problems: string[] = [];
  for (const check of LEDGER_CHECKS) {
    const rows = await run(x, check.sql);
    if (rows.length > 0) problems.push(`${check.name}: ${JSON.stringify(rows)}`);
  }
  return problems;
}
