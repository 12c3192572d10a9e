import { Decimal, badInput, conflict, newId } from '@ledgerline/contracts';
import { NOTHING_TO_READ, type Reading, type Sql } from '../persistence/sql';
import { eventRow, insertOutbox } from '../persistence/sql';
import { UNIT_ACCOUNT_KINDS, accountId, ensureAccounts, findTransaction, closeLedgerKey, lockIdempotencyKey, postTransactions, replayOrConflict, requestHash } from './ledger';
import type { BucketState } from '../domain/charging';
import { fmt } from '../domain/charging';
import { requireWallet } from './wallets';

export interface BucketRow {
  id: string;
  billing_account_id: string;
  line_id: string | null;
  allowance_id: string;
  name: string | null;
  unit: string;
  initial_quantity: string;
  priority: number;
  valid_from: Date;
  valid_to: Date;
  /** A rollover bucket: the bucket its units were carried from (see BucketState.carriedFrom). */
  carried_from: string | null;
  rollover_percent: string | null;
  status: string;
  notified_percent: number;
  /** Units used of it (charged, committed): what the allowance notifications judge. */
  used_quantity: string;
  expiry_warned: boolean;
  created_at: Date;
  remaining: string;
}

export const BUCKET_SELECT = `select b.*, a.balance as remaining from bucket b join ledger_account a on a.id = b.id`;

export interface BucketWanted {
  billingAccountId: string;
  allowanceIds?: readonly unknown[] | null;
}

/**
 * Locks the active buckets a batch may draw on, those of the allowances its charges or requests
 * name on their billing accounts (in id order, so two batches never deadlock), and reads them with
 * their remaining units: two statements, to send in one round trip with the batch's other reads
 * (`readTogether`). The balances are read by the second statement, after the lock, so they include
 * any commit that held it before us. Both start from the unnested (account, allowance) pairs: with
 * `billing_account_id = any(...)` over a thousand accounts the planner joined ledger_account by a
 * scan, and the buckets of other allowances were locked and read for nothing.
 */
export function bucketLock(wanted: readonly BucketWanted[]): Reading<LiveBucketRow[]> {
  const pairs = new Map<string, [string, string]>();
  for (const w of wanted) for (const a of w.allowanceIds ?? []) if (typeof a === 'string') pairs.set(`${w.billingAccountId}\u0000${a}`, [String(w.billingAccountId), a]);
  if (pairs.size === 0) return NOTHING_TO_READ;
  const params = [[...pairs.values()].map((p) => p[0]), [...pairs.values()].map((p) => p[1])];
  const from = `from unnest($1::text[], $2::text[]) as t(acc, allowance) join bucket b on b.billing_account_id = t.acc and b.allowance_id = t.allowance and b.status = 'ACTIVE'`;
  return {
    statements: [
      { text: `select b.id ${from} order by b.id for update of b`, params },
      // Only what charging reads: every timestamp more is a Date parsed per row.
      {
        text: `select b.id, b.billing_account_id, b.line_id, b.allowance_id, b.unit, b.initial_quantity, b.priority, b.valid_from, b.valid_to, b.carried_from, b.notified_percent, b.used_quantity, a.balance as remaining
                 ${from} join ledger_account a on a.id = b.id`,
        params,
      },
    ],
    parse: ([, rows]) => rows as LiveBucketRow[],
  };
}

/** The columns of a bucket charging and reservations work with. */
export type LiveBucketRow = Pick<BucketRow, 'id' | 'billing_account_id' | 'line_id' | 'allowance_id' | 'unit' | 'initial_quantity' | 'priority' | 'valid_from' | 'valid_to' | 'carried_from' | 'notified_percent' | 'used_quantity' | 'remaining'>;

export function toBucketState(r: LiveBucketRow): BucketState {
  return {
    id: r.id,
    billingAccountId: r.billing_account_id,
    lineId: r.line_id,
    allowanceId: r.allowance_id,
    unit: r.unit,
    priority: r.priority,
    validFrom: r.valid_from,
    validTo: r.valid_to,
    carriedFrom: r.carried_from ?? null,
    initial: new Decimal(r.initial_quantity),
    remaining: new Decimal(r.remaining),
    used: new Decimal(r.used_quantity),
  };
}

export interface GrantBucketCommand {
  billingAccountId: string;
  /** Null: shared by every line of the account. */
  lineId?: string | null;
  allowanceId: string;
  name?: string | null;
  unit: string;
  quantity: string;
  priority?: number | null;
  validFrom: Date;
  validTo: Date;
  rolloverPercent?: string | null;
  /** Idempotency: one bucket per grant key (e.g. subscription + allowance + period). */
  grantKey: string;
  /**
   * Where the units come from: a fresh grant (the account's ALLOWANCE_GRANTED, by default), or
   * another bucket (a rollover moves units from the bucket that ends into the next period's).
   */
  fromBucketId?: string;
  now: Date;
}

/** A text input written to a varchar(`max`) column: refused naming its field when absent (if required), empty or longer. */
function requireFits(value: string | null | undefined, field: string, max: number, code: string, required = true): void {
  if (value == null && !required) return;
  if (typeof value === 'string' && value.length > 0 && value.length <= max) return;
  const name = field.replace(/^input\./, '');
  throw badInput(field, typeof value === 'string' && value.length > max ? `${name} is at most ${max} characters (got ${value.length})` : `${name} is required (at most ${max} characters)`, code);
}

/** A quantity must be below this to fit `initial_quantity` and its ledger entries (NUMERIC(30,6): 24 whole digits). */
const QUANTITY_LIMIT = new Decimal(10).pow(24);

/**
 * Grants an allowance: a bucket and its ledger account, credited from ALLOWANCE_GRANTED. Every
 * input is checked against the column it is written to before anything is read or written
 * (bucket.billing_account_id / line_id varchar(40), allowance_id varchar(80), unit varchar(20),
 * initial_quantity NUMERIC(30,6), rollover_percent NUMERIC(7,3)): a value PostgreSQL would refuse
 * is BAD_USER_INPUT naming the field, not an INTERNAL_SERVER_ERROR (grant-bucket-field-lengths.test.ts).
 */
export async function grantBucket(sql: Sql, c: GrantBucketCommand): Promise<BucketRow> {
  if (!c.grantKey || c.grantKey.length > 200) throw badInput('input.grantKey', 'A grant key (at most 200 characters) is required', 'GRANT_KEY_INVALID');
  requireFits(c.billingAccountId, 'input.billingAccountId', 40, 'BILLING_ACCOUNT_ID_INVALID');
  requireFits(c.lineId, 'input.lineId', 40, 'LINE_ID_INVALID', false);
  requireFits(c.allowanceId, 'input.allowanceId', 80, 'ALLOWANCE_ID_INVALID');
  if (!/^[A-Z_]{1,20}$/.test(c.unit ?? '')) throw badInput('input.unit', `"${c.unit}" is not a unit such as MB, SECOND or MESSAGE`, 'UNIT_INVALID');
  if (!/^\d+(\.\d{1,6})?$/.test(c.quantity ?? '') || new Decimal(c.quantity).lessThanOrEqualTo(0)) throw badInput('input.quantity', `The quantity must be greater than zero (got ${c.quantity})`, 'AMOUNT_NOT_POSITIVE');
  if (new Decimal(c.quantity).greaterThanOrEqualTo(QUANTITY_LIMIT)) throw badInput('input.quantity', `The quantity must be below ${QUANTITY_LIMIT.toFixed()} (got ${c.quantity})`, 'AMOUNT_TOO_LARGE');
  if (c.rolloverPercent != null && (!/^\d+(\.\d+)?$/.test(c.rolloverPercent) || new Decimal(c.rolloverPercent).greaterThan(100))) {
    throw badInput('input.rolloverPercent', `The rollover percent must be from 0 to 100 (got ${c.rolloverPercent})`, 'PERCENT_INVALID');
  }
  if (!(c.validTo > c.validFrom)) throw badInput('input.validTo', 'validTo must be after validFrom', 'VALIDITY_INVALID');
  const priority = c.priority ?? 100;
  const quantity = new Decimal(c.quantity);
  const hash = requestHash({ b: c.billingAccountId, l: c.lineId ?? null, a: c.allowanceId, u: c.unit, q: fmt(quantity), p: priority, f: c.validFrom.toISOString(), t: c.validTo.toISOString() });
  const key = `GRANT:${c.grantKey}`;
  // The account must be known to wallets (any wallet), so a typo does not create orphan allowances.
  const owner = await sql.query(`select 1 from wallet where billing_account_id = $1 limit 1`, [c.billingAccountId]);
  if (owner.length === 0) await requireWallet(sql, c.billingAccountId, 'XXX');
  // Two grants with one key at once (a retry racing its first attempt): the second waits and replays.
  await lockIdempotencyKey(sql, key);
  const existing = await findTransaction(sql, key);
  if (existing) {
    if (existing.kind === GRANT_REVOKED) throw conflict(GRANT_REVOKED, `The grant ${c.grantKey} was revoked before it was made; nothing is granted under this key`, { field: 'input.grantKey' });
    replayOrConflict(existing, hash, 'input.grantKey');
    return (await sql.query<BucketRow>(`${BUCKET_SELECT} where b.grant_key = $1`, [c.grantKey]))[0]!;
  }
  const id = newId('bucket');
  // A rollover bucket remembers the bucket it carries units from: late usage of that bucket's period may draw on them.
  await sql.query(
    `insert into bucket (id, billing_account_id, line_id, allowance_id, name, unit, initial_quantity, priority, valid_from, valid_to, rollover_percent, status, grant_key, created_at, carried_from)
     values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,'ACTIVE',$12,$13,$14)`,
    [id, c.billingAccountId, c.lineId ?? null, c.allowanceId, c.name ?? null, c.unit, fmt(quantity), priority, c.validFrom, c.validTo, c.rolloverPercent ?? null, c.grantKey, c.now, c.fromBucketId ?? null],
  );
  await ensureAccounts(sql, c.billingAccountId, [{ id, kind: 'UNIT_BUCKET', unit: c.unit }, ...UNIT_ACCOUNT_KINDS.map((kind) => ({ id: accountId(c.billingAccountId, kind, c.unit), kind, unit: c.unit }))], c.now);
  await postTransactions(
    sql,
    [{ idempotencyKey: key, kind: c.fromBucketId ? 'BUCKET_ROLLOVER' : 'BUCKET_GRANT', billingAccountId: c.billingAccountId, requestHash: hash, reference: c.allowanceId, entries: [
      { accountId: id, unit: c.unit, amount: quantity },
      { accountId: c.fromBucketId ?? accountId(c.billingAccountId, 'ALLOWANCE_GRANTED', c.unit), unit: c.unit, amount: quantity.negated() },
    ] }],
    c.now,
  );
  return (await sql.query<BucketRow>(`${BUCKET_SELECT} where b.id = $1`, [id]))[0]!;
}

/** Kind (and request hash) of the row that marks a grant key revoked before any grant was made: no entries. A grant under it is refused with this code. */
export const GRANT_REVOKED = 'GRANT_REVOKED';

export interface RevokeGrantCommand {
  billingAccountId: string;
  /** The key the bucket was (or would have been) granted with (`grantBucket`'s grantKey). */
  grantKey: string;
  now: Date;
}

/**
 * Takes back a grant (subscribers, for a FAILED add-on order whose allowances may have been
 * granted): the bucket granted under the key becomes REVOKED and what is left of it goes back to
 * the account's ALLOWANCE_GRANTED (ledger: bucket → allowance granted, the grant reversed for its
 * unused part; what was used stays used). A REVOKED bucket is never drawn on again (charging and
 * reservations draw on ACTIVE buckets only; units a reservation gives back to it later are
 * forfeited, as to an EXPIRED one), nor renewed, nor listed as current. A key no grant was made
 * under is marked (a row under the grant's key, kind GRANT_REVOKED, no entries): a grant under it
 * later is refused (CONFLICT GRANT_REVOKED), so one still on its way can never land after the
 * revoke. Both hold the key's lock: a grant racing the revoke is either made and then revoked, or
 * refused. Revoking again answers the same. Returns the revoked bucket (null: none was granted)
 * and the units taken back by this call or the first.
 */
export async function revokeGrant(sql: Sql, c: RevokeGrantCommand): Promise<{ bucket: BucketRow | null; unitsRevoked: string }> {
  if (!c.grantKey || c.grantKey.length > 200) throw badInput('input.grantKey', 'A grant key (at most 200 characters) is required', 'GRANT_KEY_INVALID');
  if (typeof c.billingAccountId !== 'string' || c.billingAccountId.trim() === '') throw badInput('input.billingAccountId', 'A billing account id is required', 'BILLING_ACCOUNT_ID_REQUIRED');
  const key = `GRANT:${c.grantKey}`;
  await lockIdempotencyKey(sql, key);
  await closeLedgerKey(sql, key, GRANT_REVOKED, c.billingAccountId, c.now);
  const [marked] = await sql.query<{ kind: string; billing_account_id: string | null }>(`select kind, billing_account_id from ledger_transaction where idempotency_key = $1`, [key]);
  if (!marked || marked.billing_account_id !== c.billingAccountId) throw conflict('IDEMPOTENCY_KEY_REUSED', 'This grant key was used for a grant of another billing account', { field: 'input.grantKey' });
  if (marked.kind === GRANT_REVOKED) return { bucket: null, unitsRevoked: '0' };
  // The bucket and its account locked (as the expiry job locks them): a charge drawing on it commits first, and what is left is read after it.
  const [b] = await sql.query<BucketRow>(`${BUCKET_SELECT} where b.grant_key = $1 for update of b, a`, [c.grantKey]);
  if (!b) return { bucket: null, unitsRevoked: '0' };
  const revokeKey = `REVOKE:${b.id}`;
  if (b.status !== 'REVOKED') {
    const left = new Decimal(b.remaining);
    await postTransactions(sql, [{ idempotencyKey: revokeKey, kind: 'BUCKET_REVOKE', billingAccountId: b.billing_account_id, reference: b.allowance_id, outcome: { units: fmt(left) }, entries: [
      { accountId: b.id, unit: b.unit, amount: left.negated() },
      { accountId: accountId(b.billing_account_id, 'ALLOWANCE_GRANTED', b.unit), unit: b.unit, amount: left },
    ] }], c.now);
    await sql.query(`update bucket set status = 'REVOKED' where id = $1`, [b.id]);
  }
  const [revoked] = await sql.query<{ outcome: { units?: string } | null }>(`select outcome from ledger_transaction where idempotency_key = $1`, [revokeKey]);
  const bucket = (await sql.query<BucketRow>(`${BUCKET_SELECT} where b.id = $1`, [b.id]))[0]!;
  return { bucket, unitsRevoked: new Decimal(revoked?.outcome?.units ?? '0').toFixed() };
}

export async function bucketsOf(sql: Sql, billingAccountId: string, includeExpired: boolean, now: Date): Promise<BucketRow[]> {
  return includeExpired
    ? sql.query<BucketRow>(`${BUCKET_SELECT} where b.billing_account_id = $1 order by b.priority, b.valid_to, b.id`, [billingAccountId])
    : sql.query<BucketRow>(`${BUCKET_SELECT} where b.billing_account_id = $1 and b.status = 'ACTIVE' and b.valid_to > $2 order by b.priority, b.valid_to, b.id`, [billingAccountId, now]);
}

/** A bucket's status as customers see it: EXPIRED from its validTo, though it keeps late usage's units for a grace time. */
export function bucketStatusAt(b: Pick<BucketRow, 'status' | 'valid_to'>, now: Date): string {
  return b.status === 'ACTIVE' && b.valid_to <= now ? 'EXPIRED' : b.status;
}

/**
 * How long after its validity a bucket keeps what is left for late usage: a CDR of the bucket's
 * period that arrives late (roaming files come days later) still draws on it, as usage rated it.
 * Only events of the bucket's own period can (charges pick buckets by the event's time); what the
 * renewal carried over into a rollover bucket serves them too, as long as the bucket it came from
 * is active (BucketState.carriedFrom).
 */
export const LATE_USAGE_GRACE_MS = 48 * 3600_000;

/**
 * The expiry job: buckets past their validity and the late-usage grace forfeit what is left
 * (ledger: bucket → allowance expired) and become EXPIRED; buckets about to expire with units left
 * get one warning. (A bucket shows as EXPIRED from its validTo; see bucketStatusAt.) Time is
 * passed in; safe to run from several replicas (row locks, skip locked).
 */
export async function expireBuckets(sql: Sql, now: Date, warnBeforeMs = 3 * 24 * 3600_000, limit = 1000, graceMs = LATE_USAGE_GRACE_MS): Promise<{ expired: number; warned: number }> {
  // The bucket's ledger account is locked too (`of b, a`): what is left is then read at its newest
  // version. With the bucket row alone, a charge that committed after this statement's snapshot and
  // before it reached the row left `remaining` as it was before the charge, and the expiry took the
  // charged units a second time (the bucket below zero). Skip locked on both: a bucket or account
  // another transaction is moving waits for the next pass, and this statement never waits, so it
  // cannot deadlock with charging's order (wallets, then buckets, then accounts).
  const due = await sql.query<BucketRow>(`${BUCKET_SELECT} where b.status = 'ACTIVE' and b.valid_to <= $1 order by b.valid_to limit $2 for update of b, a skip locked`, [new Date(now.getTime() - graceMs), limit]);
  const txs = due.map((b) => ({
    idempotencyKey: `EXPIRE:${b.id}`,
    kind: 'BUCKET_EXPIRY',
    billingAccountId: b.billing_account_id,
    reference: b.allowance_id,
    entries: [
      { accountId: b.id, unit: b.unit, amount: new Decimal(b.remaining).negated() },
      { accountId: accountId(b.billing_account_id, 'ALLOWANCE_EXPIRED', b.unit), unit: b.unit, amount: new Decimal(b.remaining) },
    ],
  }));
  await postTransactions(sql, txs, now);
  if (due.length > 0) await sql.query(`update bucket set status = 'EXPIRED' where id = any($1::text[])`, [due.map((b) => b.id)]);
  const soon = await sql.query<BucketRow>(
    `${BUCKET_SELECT} where b.status = 'ACTIVE' and not b.expiry_warned and b.valid_to > $1 and b.valid_to <= $2 and a.balance > 0 order by b.valid_to limit $3 for update of b skip locked`,
    [now, new Date(now.getTime() + warnBeforeMs), limit],
  );
  if (soon.length > 0) await sql.query(`update bucket set expiry_warned = true where id = any($1::text[])`, [soon.map((b) => b.id)]);
  const notes = [
    ...due.map((b) => ({ b, kind: 'BUCKET_EXPIRED', event: 'bucketExpired' as const, message: `Your ${b.name ?? b.allowance_id} allowance expired with ${new Decimal(b.remaining).toFixed()} ${b.unit} unused.` })),
    ...soon.map((b) => ({ b, kind: 'BUCKET_EXPIRING', event: 'bucketExpiring' as const, message: `Your ${b.name ?? b.allowance_id} allowance (${new Decimal(b.remaining).toFixed()} ${b.unit} left) expires on ${b.valid_to.toISOString()}.` })),
  ];
  await insertNotifications(sql, notes.map((n) => ({ id: `${n.kind}:${n.b.id}`, billingAccountId: n.b.billing_account_id, walletId: null, bucketId: n.b.id, kind: n.kind, message: n.message })), now);
  await insertOutbox(sql, notes.map((n) => eventRow(n.event, n.b.id, [n.b.id, n.kind], now, { bucketId: n.b.id, billingAccountId: n.b.billing_account_id, allowanceId: n.b.allowance_id, unit: n.b.unit, remaining: n.b.remaining, validTo: n.b.valid_to.toISOString() })));
  return { expired: due.length, warned: soon.length };
}

export interface NotificationInput {
  id: string;
  billingAccountId: string;
  walletId: string | null;
  bucketId: string | null;
  kind: string;
  message: string;
}

/** Customer notification records (what a notification provider sends); one per id, ever. */
export async function insertNotifications(sql: Sql, rows: NotificationInput[], now: Date): Promise<void> {
  if (rows.length === 0) return;
  await sql.write(
    `insert into notification (id, billing_account_id, wallet_id, bucket_id, kind, message, created_at)
     select id, acc, w, b, kind, msg, $7 from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) as t(id, acc, w, b, kind, msg)
     on conflict (id) do nothing`,
    [rows.map((r) => r.id.slice(0, 64)), rows.map((r) => r.billingAccountId), rows.map((r) => r.walletId), rows.map((r) => r.bucketId), rows.map((r) => r.kind), rows.map((r) => r.message), now],
  );
}
