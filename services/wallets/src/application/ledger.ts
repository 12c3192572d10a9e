import { createHash, randomUUID } from 'node:crypto';
import { Decimal, DomainError, conflict, currencyMinorUnits } from '@ledgerline/contracts';
import type { Sql } from '../persistence/sql';
import { fmt } from '../domain/charging';

/** The ledger idempotency key of a charge (one transaction per chargeId, whoever posts it). */
export const chargeKey = (chargeId: string): string => `CHARGE:${chargeId}`;

/**
 * Ledger accounts. Amounts are signed and every transaction sums to zero per unit. Accounts the
 * customer holds value in (cash wallet, buckets) are positive when they hold value; the others
 * mirror them: a top-up is +cash / -payments clearing, a prepaid debit -cash / +revenue, a
 * postpaid accrual -unbilled receivable (owed) / +revenue, a bucket use -bucket / +allowance used.
 */
export type AccountKind =
  | 'CASH_WALLET'
  | 'UNBILLED_RECEIVABLE'
  | 'REVENUE'
  | 'TAX_PAYABLE'
  | 'PAYMENTS_CLEARING'
  | 'VOUCHER_CLEARING'
  | 'ADJUSTMENTS'
  /** What an enterprise owes for committed-spend budget replenishments, until invoicing bills them. */
  | 'BUDGET_RECEIVABLE'
  /**
   * Sub-minor residues written off settled wallets (ROUNDING_WRITE_OFF, write-off-rounding.ts): + what
   * was left on a wallet (the company keeps it), − what a wallet owed (the company forgoes it). Made when
   * first needed; it keeps a balance (it moves both ways and is off the charging path: ADR 0018).
   */
  | 'ROUNDING'
  | 'RESERVED'
  | 'UNIT_BUCKET'
  | 'ALLOWANCE_GRANTED'
  | 'ALLOWANCE_USED'
  | 'ALLOWANCE_EXPIRED';

/**
 * Accounts that only ever receive (income and units used): no decision reads their balance, so the
 * ledger keeps none for them (the column is null) and their balance is the sum of their entries,
 * summed when asked. Every charge credits one; keeping its balance was an update of a second row
 * per charge beside the wallet's (ADR 0018).
 */
export const SINK_ACCOUNT_KINDS: readonly AccountKind[] = ['REVENUE', 'ALLOWANCE_USED'];

/** Whether a ledger account id names a sink account (ids are `<billing account>:<kind>:<unit>`, and units have no colon). */
export function isSinkAccount(id: string): boolean {
  const unitAt = id.lastIndexOf(':');
  const kindAt = unitAt > 0 ? id.lastIndexOf(':', unitAt - 1) : -1;
  if (kindAt <= 0) return false;
  const kind = id.slice(kindAt + 1, unitAt);
  return kind === 'REVENUE' || kind === 'ALLOWANCE_USED';
}

export const MONEY_ACCOUNT_KINDS: AccountKind[] = ['UNBILLED_RECEIVABLE', 'REVENUE', 'TAX_PAYABLE', 'PAYMENTS_CLEARING', 'VOUCHER_CLEARING', 'ADJUSTMENTS', 'RESERVED'];
export const UNIT_ACCOUNT_KINDS: AccountKind[] = ['ALLOWANCE_GRANTED', 'ALLOWANCE_USED', 'ALLOWANCE_EXPIRED', 'RESERVED'];

/** Deterministic ids, so the hot path never looks an account up. The cash account's id is the wallet id; a bucket's is the bucket id. */
export const accountId = (billingAccountId: string, kind: AccountKind, unit: string): string => `${billingAccountId}:${kind}:${unit}`;
/** accountId as a SQL expression over two SQL expressions (columns), for statements that join an account by its id. */
export const accountIdSql = (billingAccountIdSql: string, kind: AccountKind, unitSql: string): string => `${billingAccountIdSql} || ':${kind}:' || ${unitSql}`;

/**
 * One minor unit of the currency a SQL expression (a column) names, as a SQL expression (1 for JPY,
 * 0.01 for EUR, 0.001 for BHD; null for a currency we do not bill in), for checks stated in SQL. Built
 * from contracts' currency table, so it cannot drift from `minorUnits`.
 */
export function minorUnitSql(currencySql: string): string {
  const byDigits = new Map<number, string[]>();
  for (const [code, digits] of currencyMinorUnits()) byDigits.set(digits, [...(byDigits.get(digits) ?? []), code]);
  const arms = [...byDigits].sort(([a], [b]) => a - b).map(([digits, codes]) => `when ${currencySql} in (${codes.map((c) => `'${c}'`).join(', ')}) then ${new Decimal(10).pow(-digits).toFixed()}`);
  return `(case ${arms.join(' ')} end)`;
}

export interface Entry {
  accountId: string;
  unit: string;
  amount: Decimal;
}

export interface NewTransaction {
  id?: string;
  idempotencyKey: string;
  kind: string;
  billingAccountId: string | null;
  requestHash?: string | null;
  reference?: string | null;
  outcome?: unknown;
  entries: Entry[];
}

// Ledger transaction ids rise within a process (its start time, a random part, then a counter),
// so their index and the entries' transaction index take new keys at the right edge instead of
// at random pages: measurably cheaper inserts on the charging path. Unique across processes by
// the random part; nothing relies on their order.
const TX_ID_PREFIX = `ltx_${Math.floor(performance.timeOrigin).toString(16).padStart(12, '0')}${randomUUID().slice(0, 8)}`;
let txCounter = 0;
export const newTxId = (): string => `${TX_ID_PREFIX}${(txCounter++).toString(16).padStart(12, '0')}`;

/** A stable fingerprint of a request, to tell "same key, same input" from "same key, other input". */
export function requestHash(input: unknown): string {
  const canonical = JSON.stringify(input, (_k, v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v));
  return createHash('sha256').update(canonical).digest('hex');
}

export async function ensureAccounts(sql: Sql, billingAccountId: string | null, rows: { id: string; kind: AccountKind; unit: string }[], now: Date): Promise<void> {
  if (rows.length === 0) return;
  await sql.query(
    `insert into ledger_account (id, billing_account_id, kind, unit, balance, created_at)
     select id, $1, kind, unit, case when kind = any($6::text[]) then null else 0 end, $5 from unnest($2::text[], $3::text[], $4::text[]) as t(id, kind, unit)
     on conflict (id) do nothing`,
    [billingAccountId, rows.map((r) => r.id), rows.map((r) => r.kind), rows.map((r) => r.unit), now, SINK_ACCOUNT_KINDS],
  );
}

/** A data-modifying statement (with its own $1… parameters) written in the same round trip as the ledger rows. */
export interface AlsoWrite {
  text: string;
  params: unknown[];
}

/**
 * Writes transactions, their entries and the account balances in ONE statement (data-modifying
 * CTEs over `unnest`ed arrays) whatever the number of transactions, plus the caller's `also`
 * writes (outbox rows, reservations) in it. Each transaction must sum to zero per unit (checked
 * here, before any write). The statement is a `sql.write`: in a transaction it goes with the next
 * statement or the commit, and it fails (LL001, rolling everything back) when an account it
 * moves does not exist.
 */
export async function postTransactions(sql: Sql, txs: NewTransaction[], now: Date, also: AlsoWrite[] = []): Promise<void> {
  const txIds: string[] = [];
  const keys: string[] = [];
  const kinds: string[] = [];
  const owners: (string | null)[] = [];
  const hashes: (string | null)[] = [];
  const refs: (string | null)[] = [];
  const outcomes: (string | null)[] = [];
  const eTx: string[] = [];
  const eAcc: string[] = [];
  const eUnit: string[] = [];
  const eAmt: string[] = [];
  const deltas = new Map<string, Decimal>();
  const sinks = new Set<string>();
  for (const tx of txs) {
    const id = tx.id ?? newTxId();
    tx.id = id;
    const unbalanced = unbalancedUnit(tx.entries);
    if (unbalanced) throw new DomainError('INTERNAL', `ledger transaction ${tx.kind} does not balance in ${unbalanced.unit} (${unbalanced.total.toFixed()})`, {}, 'INTERNAL');
    for (const e of tx.entries) {
      if (e.amount.isZero()) continue;
      eTx.push(id);
      eAcc.push(e.accountId);
      eUnit.push(e.unit);
      eAmt.push(fmt(e.amount));
      if (isSinkAccount(e.accountId)) {
        sinks.add(e.accountId);
        continue;
      }
      const before = deltas.get(e.accountId);
      deltas.set(e.accountId, before === undefined ? e.amount : before.plus(e.amount));
    }
    txIds.push(id);
    keys.push(tx.idempotencyKey);
    kinds.push(tx.kind);
    owners.push(tx.billingAccountId);
    hashes.push(tx.requestHash ?? null);
    refs.push(tx.reference ?? null);
    outcomes.push(tx.outcome === undefined ? null : JSON.stringify(tx.outcome));
  }
  if (txIds.length === 0) {
    for (const a of also) await sql.write(a.text, a.params);
    return;
  }
  const ids = [...deltas.keys()].sort();
  // One statement: transactions, entries, balances and whatever the caller writes with them.
  const sinkIds = [...sinks];
  const params: unknown[] = [txIds, keys, kinds, owners, hashes, refs, outcomes, now, eTx, eAcc, eUnit, eAmt, ids, ids.map((id) => fmt(deltas.get(id)!)), ids.length + sinkIds.length, sinkIds];
  const extra = also.map((a, i) => {
    const offset = params.length;
    params.push(...a.params);
    return `, also${i} as (${a.text.replace(/\$(\d+)/g, (_m, n: string) => `$${Number(n) + offset}`)})`;
  });
  // Every account must exist (entries have no foreign key): the balance update must find the
  // accounts it moves, and a look-up the sinks (whose balance is not kept).
  await sql.write(
    `with t as (
       insert into ledger_transaction (id, idempotency_key, kind, billing_account_id, request_hash, reference, outcome, created_at)
       select id, key, kind, owner, hash, ref, outcome::jsonb, $8 from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) as t(id, key, kind, owner, hash, ref, outcome)
     ), e as (
       insert into ledger_entry (transaction_id, account_id, unit, amount, created_at)
       select tx, acc, unit, amt, $8 from unnest($9::text[], $10::text[], $11::text[], $12::numeric[]) as t(tx, acc, unit, amt)
     )${extra.join('')}, u as (
       update ledger_account a set balance = a.balance + d.delta from unnest($13::text[], $14::numeric[]) as d(id, delta) where a.id = d.id returning a.id
     ), s as (
       select a.id from unnest($16::text[]) as k(id) join ledger_account a on a.id = k.id
     )
     select ledger_require((select count(*) from u) + (select count(*) from s) = $15::int, 'a ledger account of this transaction does not exist')`,
    params,
  );
}

/** The first unit a transaction's entries do not sum to zero in, with their sum; null when it balances. */
function unbalancedUnit(entries: readonly Entry[]): { unit: string; total: Decimal } | null {
  // Most transactions are two entries of one unit (a charge, a top-up): one sum, no map.
  if (entries.length === 2 && entries[0]!.unit === entries[1]!.unit) {
    const total = entries[0]!.amount.plus(entries[1]!.amount);
    return total.isZero() ? null : { unit: entries[0]!.unit, total };
  }
  const perUnit = new Map<string, Decimal>();
  for (const e of entries) perUnit.set(e.unit, (perUnit.get(e.unit) ?? new Decimal(0)).plus(e.amount));
  for (const [unit, total] of perUnit) if (!total.isZero()) return { unit, total };
  return null;
}

export interface StoredTransaction {
  id: string;
  kind: string;
  request_hash: string | null;
  outcome: any;
  created_at: Date;
}

/**
 * Holds a ledger idempotency key to the end of the transaction (an advisory lock on its hash). A
 * request takes it after its wallet's lock and before it looks the key up: two requests with the
 * same key for different wallets each held only their own wallet's lock, both found the key unused,
 * and the second failed on ledger_transaction's unique key (a raw error, not IDEMPOTENCY_KEY_REUSED).
 * Separate statement from the lookup: a statement's snapshot is taken before it waits for the lock.
 */
export async function lockIdempotencyKey(sql: Sql, idempotencyKey: string): Promise<void> {
  await sql.query(`select pg_advisory_xact_lock(hashtext('ledger-key:' || $1::text))`, [idempotencyKey]);
}

/**
 * Closes a ledger key with a row of its own (kind and request hash `kind`, no entries, no money) unless
 * a transaction holds it already: a top-up, charge or grant still on its way under the key then finds
 * it and is refused. The caller holds the key's lock (lockIdempotencyKey) and reads the key's row after.
 */
export async function closeLedgerKey(sql: Sql, idempotencyKey: string, kind: string, billingAccountId: string, now: Date): Promise<void> {
  await sql.query(
    `insert into ledger_transaction (id, idempotency_key, kind, billing_account_id, request_hash, reference, outcome, created_at)
     values ($1, $2, $3, $4, $5, null, null, $6) on conflict (idempotency_key) do nothing`,
    [newTxId(), idempotencyKey, kind, billingAccountId, kind, now],
  );
}

/**
 * Kinds of ledger keys a caller chooses (topupBalance / closeTopupKey, redeemVoucher, adjustBalance and its
 * approval, payOutWalletBalance, returnPayout). Such a key is the caller's within one billing account: two
 * accounts using one key (a frontend's "recharge-1") each get their own transaction. Internal keys (a charge's
 * `CHARGE:<chargeId>`, grants, renewals, reservations, settlements) stay unique over the whole ledger.
 */
export type CallerKeyKind = 'TOPUP' | 'VOUCHER' | 'ADJUST' | 'PAYOUT' | 'PAYOUT_RETURN';

/** A billing account id as it stands in a scoped key: `%` and `:` escaped, so the key's first `:` after the `@` ends it. */
export const keyScope = (billingAccountId: string): string => billingAccountId.replace(/%/g, '%25').replace(/:/g, '%3A');
/** keyScope as a SQL expression over a SQL expression (a column), for statements that find a key by its account. */
export const keyScopeSql = (billingAccountIdSql: string): string => `replace(replace(${billingAccountIdSql}, '%', '%25'), ':', '%3A')`;

/**
 * The ledger key of a caller's key, scoped to its billing account: `<KIND>@<account>:<key>`. Keys written
 * before keys were scoped are `<KIND>:<key>` (`legacyCallerKey`): a different prefix, so no caller's key
 * can spell another account's scoped key, old or new.
 */
export const scopedCallerKey = (kind: CallerKeyKind, billingAccountId: string, key: string): string => `${kind}@${keyScope(billingAccountId)}:${key}`;
export const legacyCallerKey = (kind: CallerKeyKind, key: string): string => `${kind}:${key}`;

/**
 * The transaction a caller's key of this account stands for: the one under its scoped key, else one the
 * account wrote under the old global key before keys were scoped (so a retry of a request made before the
 * change is answered, never applied twice); another account's old row under the key is not this
 * account's. One index lookup of two keys. The caller holds the scoped key's lock (lockIdempotencyKey);
 * old keys are no longer written, so the old row cannot appear meanwhile.
 */
export async function findCallerTransaction(sql: Sql, kind: CallerKeyKind, billingAccountId: string, key: string): Promise<(StoredTransaction & { idempotency_key: string }) | null> {
  const scoped = scopedCallerKey(kind, billingAccountId, key);
  const rows = await sql.query<StoredTransaction & { idempotency_key: string }>(
    `select id, kind, request_hash, outcome, created_at, idempotency_key from ledger_transaction
      where idempotency_key = any($1::text[]) and (idempotency_key = $2 or billing_account_id = $3)`,
    [[scoped, legacyCallerKey(kind, key)], scoped, billingAccountId],
  );
  return rows.find((r) => r.idempotency_key === scoped) ?? rows[0] ?? null;
}

export async function findTransaction(sql: Sql, idempotencyKey: string): Promise<StoredTransaction | null> {
  const rows = await sql.query<StoredTransaction>(`select id, kind, request_hash, outcome, created_at from ledger_transaction where idempotency_key = $1`, [idempotencyKey]);
  return rows[0] ?? null;
}

/** Same key + same input answers the stored result; same key + other input is a conflict. */
export function replayOrConflict(existing: StoredTransaction, hash: string, field = 'input.idempotencyKey'): StoredTransaction {
  if (existing.request_hash !== hash) {
    throw conflict('IDEMPOTENCY_KEY_REUSED', 'This idempotency key was already used for a different request; use a new key for a new request', { field });
  }
  return existing;
}

/** Transactions of one charge batch at most, when a twin keeps taking its keys (each attempt finds the keys taken before it). */
const CHARGE_KEY_ATTEMPTS = 3;

/**
 * Runs a charge transaction (`work`: a whole transaction around applyChargesIn, or around a one-off charge or credit,
 * applyOneOffChargeOnce, which writes under the same `CHARGE:<chargeId>` key) again when it lost one of its chargeIds
 * to a transaction that committed the same key meanwhile: a twin (a redelivery racing its original on another lane or
 * process, applyCharge sent twice at once, the add-on's applyCharge and its one-off event) that the wallet lock did not
 * serialize with it, because the account's wallet did not exist yet when one of them looked (both refused
 * USER_UNKNOWN, or one refused and the other applied or took the one-off once the wallet's opening committed), or
 * that named another account, or closeCharge closing the id of an account without a wallet. Its write then failed on
 * ledger_transaction's unique idempotency_key (raised only once the other committed), failing the whole batch (or the
 * subscribers consumer's batch of events). Run again, it finds the key's stored decision and answers it (the twin's
 * answer, or CHARGE_ID_CONFLICT / CHARGE_CLOSED; a one-off: ALREADY): one decision per key, money moved once, the
 * other charges of the batch applied. `onRetry`: called before each run again (the metric). No lock per chargeId: a
 * charge batch holds up to WALLETS_CHARGE_BATCH (1000) keys, too many for PostgreSQL's shared lock table on every
 * transaction, for a race this rare.
 */
export async function retryingChargeKeyTaken<T>(work: () => Promise<T>, onRetry?: () => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= CHARGE_KEY_ATTEMPTS || !ledgerKeyTaken(error)) throw error;
      // Counted (ledgerline_wallets_charge_key_retries_total): each is a twin the locks did not serialize.
      onRetry?.();
    }
  }
}

/** A write that failed on ledger_transaction's unique idempotency_key (another transaction committed the key). */
function ledgerKeyTaken(error: unknown): boolean {
  const e = error as { code?: unknown; constraint?: unknown } | null;
  return e?.code === '23505' && e.constraint === 'ledger_transaction_idempotency_key_key';
}
