import { Decimal, newId, notFound, badInput } from '@ledgerline/contracts';
import { WORK_SUBJECTS, type ChargeResult, type ChargingResultCode, type WalletReserveReply, type WalletReserveRequest, type WalletSessionReply } from '@ledgerline/contracts';
import { outboxWrite, readTogether, rowsOf, type Reading, type Sql } from '../persistence/sql';
import { chargeResultMessageId } from './apply-charges';
import { PRICE_LIMIT, UNITS_LIMIT, UNIT_MAX, decideCharge, fmt, round6, type BucketState, type WalletState } from '../domain/charging';
import { accountId, newTxId, postTransactions, type Entry, type NewTransaction } from './ledger';
import { bucketLock, toBucketState, type LiveBucketRow } from './buckets';
import { rolloverOf } from '../domain/allowance-period';
import { walletLock, walletLockOfReservations, type LockedWalletRow, type WalletPair } from './locks';
import { announceRollovers, type RolloverToAnnounce } from './announce-rollover';
import { grantRollover, rolloverTargetOf, type RolloverTarget } from './renew-allowances';
import { bucketUse, bucketUseWrite, emitBalanceEvents, type BucketUseRow, type WalletChange } from './balance-events';
import { reserveFingerprint, reserveValiditySeconds } from '../domain/reserve-fingerprint';
import { WALLET_CLOSED, walletClosedMessage } from './wallets';

export interface ReservationRow {
  id: string;
  session_id: string;
  request_key: string;
  billing_account_id: string;
  wallet_id: string;
  line_id: string | null;
  unit: string;
  price_per_unit: string;
  requested_units: string;
  granted_units: string;
  units_from_buckets: string;
  bucket_parts: { bucketId: string; units: string }[];
  money_reserved: string;
  used_units: string | null;
  status: 'RESERVED' | 'COMMITTED' | 'RELEASED' | 'EXPIRED';
  expires_at: Date;
  created_at: Date;
  closed_at: Date | null;
  usage_type: string | null;
  zone: string | null;
  /** The request's fingerprint (reserveFingerprint); null on reservations made before there were. */
  request_hash: string | null;
}

/** wallet.billing_account_id and reservation_refusal.billing_account_id are varchar(40). */
const BILLING_ACCOUNT_ID_MAX = 40;
/** reservation.line_id is varchar(40) (the unit's and the figures' limits: UNIT_MAX, UNITS_LIMIT, PRICE_LIMIT). */
const LINE_ID_MAX = 40;
const DECIMAL = /^\d+(\.\d{1,6})?$/;
/** A price per unit: an average of a tiered price may need 10 places (amounts are still rounded to 6). */
const PRICE = /^\d+(\.\d{1,10})?$/;

function replyOf(r: ReservationRow, currency: string, now: Date): WalletReserveReply {
  const granted = new Decimal(r.granted_units);
  return {
    resultCode: 'SUCCESS',
    reservationId: r.id,
    grantedUnit: { unit: r.unit, units: granted.toFixed(), unitsFromAllowances: new Decimal(r.units_from_buckets).toFixed(), amount: r.money_reserved, currency },
    validityTime: Math.max(0, Math.floor((r.expires_at.getTime() - now.getTime()) / 1000)),
    ...(granted.lessThan(new Decimal(r.requested_units)) ? { finalUnitIndication: { finalUnitAction: 'TERMINATE' as const } } : {}),
  };
}

const fail = (resultCode: ChargingResultCode, code: string, message: string): WalletReserveReply => ({ resultCode, error: { code, message } });

function walletState(w: LockedWalletRow): WalletState {
  return {
    id: w.id,
    billingAccountId: w.billing_account_id,
    currency: w.currency,
    paymentMode: w.payment_mode,
    balance: new Decimal(w.balance),
    unbilled: new Decimal(w.unbilled),
    creditLimit: w.credit_limit === null ? null : new Decimal(w.credit_limit),
    overdraftLimit: new Decimal(w.overdraft_limit),
  };
}

/** A locked wallet with its balance and held money as a batch moves them (`start`, `heldStart`: as read). */
type Wallet = LockedWalletRow & { state: WalletState; start: Decimal; heldStart: Decimal; heldNow: Decimal; cause: string | null };

function withState(w: LockedWalletRow): Wallet {
  const state = walletState(w);
  const held = new Decimal(w.held);
  return { ...w, state, start: state.balance, heldStart: held, heldNow: held, cause: null };
}

type Checked = { req: WalletReserveRequest; reply?: WalletReserveReply };

/**
 * A reserve refused on the wallet's state (no allowance or balance left, the wallet closed), kept by its requestId
 * (`reservation_refusal`): a repeat of the request is answered with it, as a repeat of a granted one with its
 * reservation. Forgotten, the same requestId asked again after a top-up was granted, and the caller's decision for
 * that key was no longer one: usage's session had stored the refusal (a twin's reservation was held till expiry,
 * nobody naming it) or recorded the units unpaid (a retry's hold was committed, money taken for them).
 */
interface RefusalRow {
  request_key: string;
  request_hash: string;
  billing_account_id: string;
  result_code: ChargingResultCode;
  error_code: string;
  message: string;
}

const refusalReply = (r: RefusalRow): WalletReserveReply => fail(r.result_code, r.error_code, r.message);

/**
 * Whether a repeated requestId asks for what its reservation was made for (then it gets the same
 * reply): the same fingerprint. A reservation made before fingerprints were kept is compared as it
 * was then, on what its row holds (session, wallet, unit, line, units, price; not allowanceIds,
 * allowOverdraft, validity, usage type, zone).
 */
function sameReserve(prior: ReservationRow, req: WalletReserveRequest, walletId: string): boolean {
  if (prior.request_hash !== null) return prior.request_hash === reserveFingerprint(req);
  return prior.session_id === req.sessionId && prior.wallet_id === walletId && prior.unit === req.unit && (prior.line_id ?? null) === (req.lineId ?? null)
    && new Decimal(prior.requested_units).equals(req.requestedUnits) && new Decimal(prior.price_per_unit).equals(req.pricePerUnit);
}

/**
 * Holds the batch's requestIds to the end of the transaction (advisory locks on their hashes, taken in hash order, so
 * two batches sharing keys never deadlock), first in the reserve's lock order: request keys → wallets → buckets. The
 * wallet lock alone serializes two copies of a request only once the wallet row exists: while the account's wallet
 * was being opened, a copy that read before its commit locked nothing and was refused WALLET_NOT_FOUND, and its twin,
 * reading after that commit, locked the new wallet, did not see the uncommitted refusal and was granted (two
 * decisions for one key; a hold for a request usage had been told was refused). Now the second copy waits for the
 * first's commit and its reads, later statements, see that decision (and a wallet at least as new as the first saw).
 * Nothing else takes these locks, so no transaction holds a wallet while it waits for one. A key is an advisory lock
 * (held in PostgreSQL's shared lock table, one per distinct requestId of the batch: at most WALLETS_RPC_MAX_BATCH),
 * not a row: no write per request on the reserve path; reservation.request_key and reservation_refusal's primary key
 * remain the unique constraints behind each decision.
 */
function requestKeyLock(keys: readonly string[]): Reading<void> {
  return {
    statements: [{
      // Volatile functions in the select list run after the sort: the locks are taken in hash order.
      text: `select pg_advisory_xact_lock(h) from (select distinct hashtext('reserve-request:' || k) as h from unnest($1::text[]) as k) s order by h`,
      params: [keys],
    }],
    parse: () => undefined,
  };
}

/** Checks one reserve request's fields; a reply when it is refused without touching the database. */
function checkReserve(req: WalletReserveRequest): WalletReserveReply | undefined {
  if (!req || typeof req !== 'object' || typeof req.requestId !== 'string' || !req.requestId || typeof req.sessionId !== 'string' || !req.sessionId) return fail('RATING_FAILED', 'INVALID_INPUT', 'requestId and sessionId are required');
  if (typeof req.billingAccountId !== 'string' || typeof req.currency !== 'string' || typeof req.unit !== 'string') return fail('RATING_FAILED', 'INVALID_INPUT', 'billingAccountId, currency and unit are required');
  if (!DECIMAL.test(req.requestedUnits ?? '') || new Decimal(req.requestedUnits).lessThanOrEqualTo(0)) return fail('RATING_FAILED', 'AMOUNT_NOT_POSITIVE', 'requestedUnits must be a positive decimal');
  if (!PRICE.test(req.pricePerUnit ?? '')) return fail('RATING_FAILED', 'AMOUNT_INVALID', 'pricePerUnit must be a non-negative decimal with at most 10 places');
  // What a grant writes must fit its columns: PostgreSQL refusing it was an INTERNAL answer (and a failed batch).
  if (!req.unit || req.unit.length > UNIT_MAX) return fail('RATING_FAILED', 'INVALID_INPUT', `unit is required (at most ${UNIT_MAX} characters)`);
  if (req.lineId != null && (typeof req.lineId !== 'string' || req.lineId.length > LINE_ID_MAX)) return fail('RATING_FAILED', 'INVALID_INPUT', `lineId must be an id of at most ${LINE_ID_MAX} characters`);
  const units = new Decimal(req.requestedUnits);
  if (units.greaterThanOrEqualTo(UNITS_LIMIT)) return fail('RATING_FAILED', 'AMOUNT_TOO_LARGE', `requestedUnits must be below ${UNITS_LIMIT.toFixed()}`);
  if (new Decimal(req.pricePerUnit).greaterThanOrEqualTo(PRICE_LIMIT)) return fail('RATING_FAILED', 'AMOUNT_TOO_LARGE', `pricePerUnit must be below ${PRICE_LIMIT.toFixed()}`);
  if (units.times(req.pricePerUnit).greaterThanOrEqualTo(UNITS_LIMIT)) return fail('RATING_FAILED', 'AMOUNT_TOO_LARGE', `requestedUnits × pricePerUnit must be below ${UNITS_LIMIT.toFixed()}`);
  if (req.allowanceIds != null && (!Array.isArray(req.allowanceIds) || req.allowanceIds.some((a) => typeof a !== 'string'))) return fail('RATING_FAILED', 'INVALID_INPUT', 'allowanceIds must be a list of ids');
  return undefined;
}

/**
 * Reserve (Nchf: initial/update request units): hold allowance units first, then money, and grant
 * what can be held. Fewer units than asked comes with a final unit indication; none at all is
 * QUOTA_LIMIT_REACHED. Idempotent by `requestId`.
 */
export async function reserve(sql: Sql, req: WalletReserveRequest, now: Date): Promise<WalletReserveReply> {
  return (await reserveMany(sql, [req], now))[0]!;
}

/**
 * Reserves for many requests in ONE transaction with a constant number of statements (group
 * commit): each request is checked first and decided on its own, in arrival order, so a refused
 * request never affects the others. Wallets are locked once in id order; reservations, ledger
 * transactions and entries are written set-based. A repeated `requestId` (in an earlier batch or
 * in this one) answers the same reservation when it asks for the same (sameReserve), else it is
 * refused IDEMPOTENCY_KEY_REUSED; a requestId refused on the wallet's state is answered the same
 * refusal (RefusalRow), whatever the wallet holds now. One reply per request, in order.
 */
export async function reserveMany(sql: Sql, reqs: WalletReserveRequest[], now: Date): Promise<WalletReserveReply[]> {
  const checked: Checked[] = reqs.map((req) => ({ req, reply: checkReserve(req) }));
  const live = checked.filter((c) => !c.reply);
  if (live.length === 0) return checked.map((c) => c.reply!);
  const pairs = new Map<string, WalletPair>();
  for (const { req } of live) pairs.set(`${req.billingAccountId}\u0000${req.currency}`, { acc: req.billingAccountId, cur: req.currency });
  // Every read in one round trip, in lock order (request keys, wallets, then buckets): the wallets and their
  // balances, the requests answered before, the buckets the requests may draw on.
  // The reservations and refusals are read once the keys and wallets are ours: a decision committed by whoever
  // held them before is seen.
  const keys = [...new Set(live.map((c) => c.req.requestId))];
  const [, locked, earlier, refusedBefore, buckets] = await readTogether<[void, LockedWalletRow[], ReservationRow[], RefusalRow[], LiveBucketRow[]]>(
    sql,
    requestKeyLock(keys),
    walletLock([...pairs.values()]),
    rowsOf(`select * from reservation where request_key = any($1::text[])`, [keys]),
    rowsOf(`select * from reservation_refusal where request_key = any($1::text[])`, [keys]),
    bucketLock(live.filter((c) => c.req.allowanceIds?.length).map((c) => c.req)),
  );
  const wallets = new Map(locked.map((w) => [`${w.billing_account_id}\u0000${w.currency}`, withState(w)]));
  const previous = new Map(earlier.map((r) => [r.request_key, r]));
  const refusals = new Map(refusedBefore.map((r) => [r.request_key, r]));
  const bucketsByAccount = new Map<string, BucketState[]>();
  for (const row of buckets) {
    const list = bucketsByAccount.get(row.billing_account_id) ?? [];
    list.push(toBucketState(row));
    bucketsByAccount.set(row.billing_account_id, list);
  }

  const txs: NewTransaction[] = [];
  const fresh: ReservationRow[] = [];
  const made = new Map<string, ReservationRow>();
  const refused: RefusalRow[] = [];
  /** Refuses the request on the wallet's state, and keeps the refusal for its repeats. */
  const refuse = (c: Checked, reply: WalletReserveReply): void => {
    const row: RefusalRow = { request_key: c.req.requestId, request_hash: reserveFingerprint(c.req), billing_account_id: c.req.billingAccountId, result_code: reply.resultCode, error_code: reply.error!.code, message: reply.error!.message };
    refusals.set(row.request_key, row);
    refused.push(row);
    c.reply = reply;
  };
  for (const c of live) {
    const { req } = c;
    const wallet = wallets.get(`${req.billingAccountId}\u0000${req.currency}`);
    // The key is looked up before the wallet is required: a key refused for want of a wallet keeps that answer.
    const prior = previous.get(req.requestId) ?? made.get(req.requestId);
    const refusal = prior ? undefined : refusals.get(req.requestId);
    if (prior || refusal) {
      c.reply = prior && wallet && sameReserve(prior, req, wallet.id) ? replyOf(prior, wallet.currency, now)
        : refusal && refusal.request_hash === reserveFingerprint(req) ? refusalReply(refusal)
          : fail('RATING_FAILED', 'IDEMPOTENCY_KEY_REUSED', `requestId ${req.requestId} was already used for a different reservation; use a new requestId for a new request`);
      continue;
    }
    if (!wallet) {
      // Kept as the other refusals are: the wallet may be opened before the request is asked again (wallets follows
      // the account's events behind usage, or staff open the plan's currency), and the retry of a past-grant hold
      // was then granted and committed for units usage had recorded unpaid. An id longer than a wallet's can never
      // have one (nor fit the refusal's column): nothing to keep.
      const reply = fail('USER_UNKNOWN', 'WALLET_NOT_FOUND', `No ${req.currency} wallet for billing account ${req.billingAccountId}`);
      if (req.billingAccountId.length <= BILLING_ACCOUNT_ID_MAX) refuse(c, reply);
      else c.reply = reply;
      continue;
    }
    // A closed wallet holds nothing new (a reservation is for usage from now on); those made before the close may still end.
    if (wallet.closed_at !== null) {
      refuse(c, fail('END_USER_SERVICE_DENIED', WALLET_CLOSED, walletClosedMessage(wallet.billing_account_id, wallet.currency, wallet.closed_at)));
      continue;
    }
    const requested = new Decimal(req.requestedUnits);
    const d = decideCharge(wallet.state, bucketsByAccount.get(req.billingAccountId) ?? [], { lineId: req.lineId ?? null, at: now, units: requested, unit: req.unit, allowanceIds: req.allowanceIds ?? [], pricePerUnit: new Decimal(req.pricePerUnit), allowOverdraft: !!req.allowOverdraft });
    if (d.outcome === 'DENIED') {
      refuse(c, fail('QUOTA_LIMIT_REACHED', d.reason ?? 'QUOTA_LIMIT_REACHED', 'No allowance or balance left for this service'));
      continue;
    }
    const id = newId('reservation');
    const validity = reserveValiditySeconds(req.validitySeconds);
    const source = wallet.payment_mode === 'PREPAID' ? wallet.id : accountId(wallet.billing_account_id, 'UNBILLED_RECEIVABLE', wallet.currency);
    const entries: Entry[] = [];
    for (const p of d.bucketParts) entries.push({ accountId: p.bucketId, unit: req.unit, amount: p.units.negated() }, { accountId: accountId(req.billingAccountId, 'RESERVED', req.unit), unit: req.unit, amount: p.units });
    if (!d.amount.isZero()) entries.push({ accountId: source, unit: wallet.currency, amount: d.amount.negated() }, { accountId: accountId(req.billingAccountId, 'RESERVED', wallet.currency), unit: wallet.currency, amount: d.amount });
    const txId = newTxId();
    txs.push({ id: txId, idempotencyKey: `RESERVE:${id}`, kind: 'RESERVE', billingAccountId: req.billingAccountId, reference: req.sessionId, entries });
    const row: ReservationRow = {
      id, session_id: req.sessionId, request_key: req.requestId, billing_account_id: req.billingAccountId, wallet_id: wallet.id, line_id: req.lineId ?? null, unit: req.unit,
      price_per_unit: req.pricePerUnit, requested_units: fmt(requested), granted_units: fmt(d.units), units_from_buckets: fmt(d.unitsFromBuckets),
      bucket_parts: d.bucketParts.map((p) => ({ bucketId: p.bucketId, units: fmt(p.units) })), money_reserved: fmt(d.amount), used_units: null, status: 'RESERVED',
      expires_at: new Date(now.getTime() + validity * 1000), created_at: now, closed_at: null,
      usage_type: typeof req.usageType === 'string' ? req.usageType.slice(0, 16) : null, zone: typeof req.zone === 'string' ? req.zone.slice(0, 40) : null,
      request_hash: reserveFingerprint(req),
    };
    made.set(req.requestId, row);
    fresh.push(row);
    c.reply = replyOf(row, wallet.currency, now);
  }
  // A refusal moves nothing: no ledger row, only what a repeat is answered with (one statement with the rest).
  const refusalWrite = refused.length === 0 ? [] : [{
    text: `insert into reservation_refusal (request_key, request_hash, billing_account_id, result_code, error_code, message, created_at)
     select k, h, acc, rc, ec, msg, $7 from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) as t(k, h, acc, rc, ec, msg)
     on conflict (request_key) do nothing`,
    params: [refused.map((r) => r.request_key), refused.map((r) => r.request_hash), refused.map((r) => r.billing_account_id), refused.map((r) => r.result_code), refused.map((r) => r.error_code), refused.map((r) => r.message), now],
  }];
  if (fresh.length === 0) {
    for (const w of refusalWrite) await sql.write(w.text, w.params);
  } else {
    const col = <K extends keyof ReservationRow>(k: K) => fresh.map((r) => r[k]);
    // Ledger rows, balances, the reservations and the refusals: one round trip.
    await postTransactions(sql, txs, now, [{
      text: `insert into reservation (id, session_id, request_key, billing_account_id, wallet_id, line_id, unit, price_per_unit, requested_units, granted_units, units_from_buckets, bucket_parts, money_reserved, status, expires_at, created_at, usage_type, zone, request_hash)
       select id, sid, rk, acc, wal, lin, unit, ppu, req, gr, fb, parts::jsonb, money, 'RESERVED', exp, $14, ut, zone, rh
       from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::numeric[], $9::numeric[], $10::numeric[], $11::numeric[], $12::text[], $13::numeric[], $15::timestamptz[], $16::text[], $17::text[], $18::text[])
         as t(id, sid, rk, acc, wal, lin, unit, ppu, req, gr, fb, parts, money, exp, ut, zone, rh)`,
      params: [col('id'), col('session_id'), col('request_key'), col('billing_account_id'), col('wallet_id'), col('line_id'), col('unit'), col('price_per_unit'), col('requested_units'), col('granted_units'), col('units_from_buckets'), fresh.map((r) => JSON.stringify(r.bucket_parts)), col('money_reserved'), now, col('expires_at'), col('usage_type'), col('zone'), col('request_hash')],
    }, ...refusalWrite]);
    // A hold spends nothing: no balance or allowance notice, no auto top-up, no budget
    // replenishment (the unspent money, balance + held, is what they judge; see unspentMove).
    // The commit says what was spent, once; a release or an expiry says nothing.
  }
  return checked.map((c) => c.reply!);
}

/**
 * What closing a reservation with `used` units charges: allowance units first (its bucket parts in
 * order), the rest priced, never more money than was held. The one rule for a close and for the
 * answer to a repeated close.
 */
function closedFigures(r: ReservationRow, used: Decimal): { fromBuckets: Decimal; charged: Decimal } {
  const fromBuckets = Decimal.min(used, new Decimal(r.units_from_buckets));
  const charged = Decimal.min(round6(used.minus(fromBuckets).times(new Decimal(r.price_per_unit))), new Decimal(r.money_reserved));
  return { fromBuckets, charged };
}

/** The ChargeResult of a committed reservation: the reservation is the charge (its id the chargeId), dated when the units were held. */
function chargeResultOf(r: ReservationRow, wallet: Wallet, used: Decimal, fromBuckets: Decimal, charged: Decimal): ChargeResult {
  return {
    chargeId: r.id, outcome: 'APPLIED', billingAccountId: r.billing_account_id, lineId: r.line_id ?? '', paymentMode: wallet.payment_mode,
    usageType: r.usage_type ?? 'UNKNOWN', occurredAt: new Date(r.created_at).toISOString(), units: used.toFixed(), unit: r.unit,
    unitsFromAllowances: fromBuckets.toFixed(), amountCharged: fmt(charged), currency: wallet.currency, zone: r.zone,
  };
}

export interface CloseRequest {
  reservationId: string;
  usedUnits: string;
  closing: 'COMMITTED' | 'RELEASED' | 'EXPIRED';
  /**
   * A commit's price per unit of the units used, as the caller rated them (WalletCommitRequest.pricePerUnit); absent: the
   * reservation's. Kept on the reservation as it closes, so a repeated commit is answered the same figures.
   */
  pricePerUnit?: string;
}

/**
 * Commit (Nchf: used units): charge what was used (allowance units first, then money) and give
 * the rest back. `usedUnits` 0 is a release; an expired reservation is closed with status EXPIRED.
 * Repeating a commit on a closed reservation answers its final state.
 */
export async function closeReservation(sql: Sql, reservationId: string, usedUnitsText: string, now: Date, closing: 'COMMITTED' | 'RELEASED' | 'EXPIRED'): Promise<WalletSessionReply> {
  return (await closeMany(sql, [{ reservationId, usedUnits: usedUnitsText, closing }], now))[0]!;
}

/**
 * Closes many reservations in ONE transaction with a constant number of statements (two round
 * trips with the commit): wallets locked in id order, then the reservations (same lock order as
 * reserve), one ledger transaction per reservation, one update for all. Each request is answered
 * on its own.
 */
export async function closeMany(sql: Sql, items: CloseRequest[], now: Date): Promise<WalletSessionReply[]> {
  const replies: (WalletSessionReply | undefined)[] = items.map((it) => {
    const reservationId = typeof it?.reservationId === 'string' ? it.reservationId : '';
    if (!reservationId) return { resultCode: 'RATING_FAILED', reservationId, error: { code: 'INVALID_INPUT', message: 'reservationId is required' } };
    if (typeof it.usedUnits !== 'string' || !DECIMAL.test(it.usedUnits)) return { resultCode: 'RATING_FAILED', reservationId, error: { code: 'AMOUNT_INVALID', message: 'usedUnits must be a non-negative decimal' } };
    if (it.pricePerUnit != null && (typeof it.pricePerUnit !== 'string' || !PRICE.test(it.pricePerUnit) || new Decimal(it.pricePerUnit).greaterThanOrEqualTo(PRICE_LIMIT))) {
      return { resultCode: 'RATING_FAILED', reservationId, error: { code: 'AMOUNT_INVALID', message: `pricePerUnit, when given, must be a non-negative decimal with at most 10 places, below ${PRICE_LIMIT.toFixed()}` } };
    }
    return undefined;
  });
  const ids = [...new Set(items.filter((_, i) => !replies[i]).map((it) => it.reservationId))];
  if (ids.length === 0) return replies as WalletSessionReply[];
  // Every read in one round trip, in lock order (wallets, then reservations, as reserve locks
  // them, then buckets): the reservations' wallets and their balances, the reservations, the
  // buckets they hold units of with the other active buckets of those allowances (notifications,
  // rollover), locked.
  const [locked, reservations, buckets] = await readTogether<[LockedWalletRow[], ReservationRow[], CloseBucketRow[]]>(
    sql,
    walletLockOfReservations(ids),
    rowsOf(`select * from reservation where id = any($1::text[]) order by id for update`, [ids]),
    closeBucketLock(ids),
  );
  const wallets = new Map(locked.map((w) => [w.id, withState(w)]));
  const rows = new Map(reservations.map((r) => [r.id, r]));
  const bucketRows = new Map(buckets.map((b) => [b.id, b]));
  // The rollover bucket a bucket's units were carried into at its renewal (with the rule that carried them).
  const rolloverOfBucket = new Map(buckets.filter((b) => b.carried_from !== null && b.status === 'ACTIVE' && b.carried_percent !== null).map((b) => [b.carried_from!, b]));
  // A bucket whose renewal carried nothing (an open session held all that was left) has the rule
  // on it and no rollover bucket: the units given back make it (rare: a few round trips for each).
  const held = new Set(reservations.filter((r) => r.status === 'RESERVED').flatMap((r) => r.bucket_parts.map((p) => p.bucketId)));
  const uncarried = new Map<string, { target: RolloverTarget; carried: Decimal }>();
  for (const b of buckets) {
    if (!held.has(b.id) || b.carried_from !== null || b.carried_percent === null || new Decimal(b.carried_percent).lte(0) || rolloverOfBucket.has(b.id)) continue;
    const target = await rolloverTargetOf(sql, { ...b, carried_percent: b.carried_percent });
    if (target) uncarried.set(b.id, { target, carried: new Decimal(0) });
  }
  const usedOf = new Map<string, Decimal>();
  const carriedMore = new Map<string, Decimal>();
  const txs: NewTransaction[] = [];
  const closed: ReservationRow[] = [];
  const results: ChargeResult[] = [];
  items.forEach((it, i) => {
    if (replies[i]) return;
    const { reservationId, closing } = it;
    const r = rows.get(reservationId);
    if (!r) {
      replies[i] = { resultCode: 'USER_UNKNOWN', reservationId, error: { code: 'RESERVATION_NOT_FOUND', message: `Reservation ${reservationId} does not exist` } };
      return;
    }
    if (r.status !== 'RESERVED') {
      const { fromBuckets, charged } = closedFigures(r, new Decimal(r.used_units ?? '0'));
      replies[i] = { resultCode: 'SUCCESS', reservationId, status: r.status, usedUnits: new Decimal(r.used_units ?? '0').toFixed(), unitsFromAllowances: fromBuckets.toFixed(), amountCharged: fmt(charged) };
      return;
    }
    const wallet = wallets.get(r.wallet_id)!;
    // The units used at their own rated price (a fixed fee is not spread over the units held): charged so, never more
    // money than was held (closedFigures), and kept on the reservation for the answer to a repeated close.
    if (closing === 'COMMITTED' && it.pricePerUnit != null) r.price_per_unit = it.pricePerUnit;
    const granted = new Decimal(r.granted_units);
    const used = Decimal.min(new Decimal(it.usedUnits), granted);
    let left = used;
    const entries: Entry[] = [];
    const reservedUnits = accountId(r.billing_account_id, 'RESERVED', r.unit);
    for (const p of r.bucket_parts) {
      const units = new Decimal(p.units);
      const take = Decimal.min(left, units);
      left = left.minus(take);
      if (!take.isZero()) {
        entries.push({ accountId: reservedUnits, unit: r.unit, amount: take.negated() }, { accountId: accountId(r.billing_account_id, 'ALLOWANCE_USED', r.unit), unit: r.unit, amount: take });
        usedOf.set(p.bucketId, (usedOf.get(p.bucketId) ?? new Decimal(0)).plus(take));
      }
      const back = units.minus(take);
      if (!back.isZero()) {
        entries.push({ accountId: reservedUnits, unit: r.unit, amount: back.negated() });
        // Given back after the bucket's period rolled over: the rollover share goes on to the next period's rollover bucket.
        const carried = carryReturned(rolloverOfBucket.get(p.bucketId), back, carriedMore);
        if (!carried.isZero()) entries.push({ accountId: rolloverOfBucket.get(p.bucketId)!.id, unit: r.unit, amount: carried });
        // None made yet: the share goes back to the bucket and moves on from there when the rollover bucket is made (below).
        const uncarriedOf = uncarried.get(p.bucketId);
        const share = uncarriedOf ? carryUncarried(uncarriedOf, back) : new Decimal(0);
        const rest = back.minus(carried).minus(share);
        if (bucketRows.get(p.bucketId)?.status === 'ACTIVE') {
          if (!rest.plus(share).isZero()) entries.push({ accountId: p.bucketId, unit: r.unit, amount: rest.plus(share) });
        } else {
          if (!share.isZero()) entries.push({ accountId: p.bucketId, unit: r.unit, amount: share });
          if (!rest.isZero()) entries.push({ accountId: accountId(r.billing_account_id, 'ALLOWANCE_EXPIRED', r.unit), unit: r.unit, amount: rest });
        }
      }
    }
    const reserved = new Decimal(r.money_reserved);
    const { fromBuckets, charged } = closedFigures(r, used);
    const reservedMoney = accountId(r.billing_account_id, 'RESERVED', wallet.currency);
    const source = wallet.payment_mode === 'PREPAID' ? wallet.id : accountId(r.billing_account_id, 'UNBILLED_RECEIVABLE', wallet.currency);
    if (!charged.isZero()) entries.push({ accountId: reservedMoney, unit: wallet.currency, amount: charged.negated() }, { accountId: accountId(r.billing_account_id, 'REVENUE', wallet.currency), unit: wallet.currency, amount: charged });
    const refund = reserved.minus(charged);
    if (!refund.isZero()) entries.push({ accountId: reservedMoney, unit: wallet.currency, amount: refund.negated() }, { accountId: source, unit: wallet.currency, amount: refund });
    if (wallet.payment_mode === 'PREPAID') {
      wallet.state.balance = wallet.state.balance.plus(refund);
      wallet.heldNow = wallet.heldNow.minus(reserved);
    }
    const txId = newTxId();
    if (!charged.isZero()) wallet.cause = txId;
    txs.push({ id: txId, idempotencyKey: `CLOSE:${r.id}`, kind: closing === 'COMMITTED' ? 'COMMIT' : closing, billingAccountId: r.billing_account_id, reference: r.session_id, outcome: { used: fmt(used), charged: fmt(charged) }, entries });
    // A commit that used something is a charge like any other: its ChargeResult (invoicing bills a postpaid one from it).
    if (closing === 'COMMITTED' && used.gt(0)) results.push(chargeResultOf(r, wallet, used, fromBuckets, charged));
    // A second close of the same reservation in this batch answers the final state.
    r.status = closing;
    r.used_units = fmt(used);
    closed.push(r);
    replies[i] = { resultCode: 'SUCCESS', reservationId, status: closing, usedUnits: used.toFixed(), unitsFromAllowances: fromBuckets.toFixed(), amountCharged: fmt(charged) };
  });
  if (closed.length > 0) {
    // The buckets units were used of (with the other active buckets of their allowances) and rollover buckets carried more into.
    const uses = buckets.filter((b) => b.status === 'ACTIVE' || usedOf.has(b.id))
      .map((b) => bucketUse({ ...b, initial_quantity: fmt(new Decimal(b.initial_quantity).plus(carriedMore.get(b.id) ?? 0)) }, usedOf.get(b.id) ?? new Decimal(0)));
    const useWrite = bucketUseWrite(uses, carriedMore);
    const resultRows = results.map((c) => ({ id: chargeResultMessageId(c.chargeId), subject: WORK_SUBJECTS.chargeApplied, payload: JSON.stringify(c), createdAt: now }));
    await postTransactions(sql, txs, now, [{
      text: `update reservation r set status = t.status, used_units = t.used, price_per_unit = t.ppu, closed_at = $4 from unnest($1::text[], $2::text[], $3::numeric[], $5::numeric[]) as t(id, status, used, ppu) where r.id = t.id`,
      params: [closed.map((r) => r.id), closed.map((r) => r.status), closed.map((r) => r.used_units), now, closed.map((r) => r.price_per_unit)],
    }, ...(resultRows.length > 0 ? [outboxWrite(resultRows)] : []), ...(useWrite ? [useWrite] : [])]);
    if (resultRows.length > 0) sql.eventsQueued = true;
    // The rollover buckets the renewals would have made, with what was given back to roll over (BUCKET_ROLLOVER from the ended bucket).
    const rolled: RolloverToAnnounce[] = [...carriedMore.keys()].map((bucketId) => ({ bucketId }));
    for (const [bucketId, u] of uncarried) {
      if (u.carried.isZero()) continue;
      const made = await grantRollover(sql, u.target.subject, u.target.allowance, bucketId, u.carried, u.target.start, u.target.end, now);
      rolled.push({ bucketId: made.id, subscriptionId: u.target.subject.subscriptionId, planVersionId: u.target.subject.planVersionId });
    }
    // No renewal announced these units (made now) or this much (grown now): usage sizes the allowance's period by them (bucket.rolledover).
    await announceRollovers(sql, rolled, now);
    // What was used (not what was held) is what the allowance notifications judge; what was spent
    // (charged: it left the unspent money) is what low balance, depleted, auto top-up and a
    // committed-spend budget's replenishment judge. A release or an expiry spends nothing.
    const spent: WalletChange[] = [...wallets.values()].filter((w) => w.cause !== null && w.payment_mode === 'PREPAID').map((w) => ({
      walletId: w.id, billingAccountId: w.billing_account_id, currency: w.currency, paymentMode: w.payment_mode,
      lowBalanceThreshold: w.low_balance_threshold === null ? null : new Decimal(w.low_balance_threshold),
      before: w.start, after: w.state.balance, held: { before: w.heldStart, after: w.heldNow }, cause: w.cause!, hasRules: w.has_rules,
    }));
    if (usedOf.size > 0 || spent.length > 0) await emitBalanceEvents(sql, now, spent, usedOf.size > 0 ? uses : []);
  }
  return replies as WalletSessionReply[];
}

/** A bucket a close touches, or another active bucket of its allowance (see closeBucketLock). */
interface CloseBucketRow extends BucketUseRow {
  status: string;
  name: string | null;
  grant_key: string;
  /** A rollover bucket: the bucket its units were carried from. */
  carried_from: string | null;
  /**
   * The rollover rule: on a rollover bucket, the one that carried units into it; on a bucket whose
   * renewal carried nothing (no carried_from), the one units given back to it roll over by.
   */
  carried_percent: string | null;
  carried_max: string | null;
}

/**
 * The buckets the reservations hold units of (whatever their status), and every active bucket of
 * those allowances on the same account: the allowance is judged as a whole, and a rollover bucket
 * (`carried_from`) takes the rollover share of units given back to the bucket it was carried from.
 * Locked in id order first (after the wallets and the reservations, as charging locks buckets after
 * the wallets), then read: the expiry job takes no wallet lock, and a bucket it expired between an
 * unlocked read of its status and the close's write kept the units given back, expired. Now the
 * expiry skips a bucket locked here (and forfeits the units at its next pass), or this waits for it
 * and reads the bucket EXPIRED (the units go to ALLOWANCE_EXPIRED, or roll over). Two statements,
 * to send with the close's other reads.
 */
function closeBucketLock(reservationIds: readonly string[]): Reading<CloseBucketRow[]> {
  const params = [reservationIds];
  return {
    statements: [
      { text: `select b.id from bucket b where b.id in (${closeBuckets('b.id')}) order by b.id for update of b`, params },
      { text: closeBuckets(CLOSE_BUCKET_COLUMNS), params },
    ],
    parse: ([, rows]) => rows as CloseBucketRow[],
  };
}

const CLOSE_BUCKET_COLUMNS = `b.id, b.status, b.name, b.grant_key, b.billing_account_id, b.line_id, b.allowance_id, b.unit, b.priority, b.valid_from, b.valid_to, b.initial_quantity, b.used_quantity,
  b.notified_percent, b.carried_from, b.carried_percent::text as carried_percent, b.carried_max::text as carried_max`;
const closeBuckets = (columns: string) => `with held as (select b.id, b.billing_account_id, b.allowance_id from bucket b
    where b.id in (select p->>'bucketId' from reservation r, jsonb_array_elements(r.bucket_parts) p where r.id = any($1::text[]) and r.status = 'RESERVED'))
  select ${columns} from bucket b where b.id in (select id from held)
  union
  select ${columns} from (select distinct billing_account_id, allowance_id from held) k
    join bucket b on b.billing_account_id = k.billing_account_id and b.status = 'ACTIVE' and b.allowance_id = k.allowance_id`;

/**
 * The part of `back` units, given back to a bucket whose period has rolled over, that goes on to its
 * rollover bucket: what the renewal would have carried had they been there (the rule's percent),
 * within what the rule still allows (its max, less what the rollover bucket was given so far).
 */
function carryReturned(rollover: CloseBucketRow | undefined, back: Decimal, carriedMore: Map<string, Decimal>): Decimal {
  if (!rollover) return new Decimal(0);
  const given = carriedMore.get(rollover.id) ?? new Decimal(0);
  const room = rollover.carried_max === null ? undefined : fmt(Decimal.max(0, new Decimal(rollover.carried_max).minus(rollover.initial_quantity).minus(given)));
  const carried = rolloverOf(back, { percent: rollover.carried_percent!, ...(room === undefined ? {} : { maxQuantity: room }) });
  if (!carried.isZero()) carriedMore.set(rollover.id, given.plus(carried));
  return carried;
}

/**
 * The same for a bucket whose renewal carried nothing: nothing of the period was carried yet, so
 * the rule's whole max is room, less what this batch gives it already (`u.carried`, which grows).
 */
function carryUncarried(u: { target: RolloverTarget; carried: Decimal }, back: Decimal): Decimal {
  const { percent, maxQuantity } = u.target.allowance.rollover;
  const room = maxQuantity === undefined ? undefined : fmt(Decimal.max(0, new Decimal(maxQuantity).minus(u.carried)));
  const carried = rolloverOf(back, { ...(percent === undefined ? {} : { percent }), ...(room === undefined ? {} : { maxQuantity: room }) });
  u.carried = u.carried.plus(carried);
  return carried;
}

/** Stale reservations (past their validity) give everything back, in batches. Time is passed in. */
export async function expireReservations(sql: Sql, now: Date, limit = 500): Promise<number> {
  const due = await sql.query<{ id: string }>(`select id from reservation where status = 'RESERVED' and expires_at <= $1 order by expires_at limit $2`, [now, limit]);
  if (due.length > 0) await closeMany(sql, due.map((r) => ({ reservationId: r.id, usedUnits: '0', closing: 'EXPIRED' as const })), now);
  return due.length;
}

export async function reservationById(sql: Sql, id: string): Promise<ReservationRow | null> {
  return (await sql.query<ReservationRow>(`select * from reservation where id = $1`, [id]))[0] ?? null;
}

export function requireReservationInput(id: string): void {
  if (!id) throw badInput('input.reservationId', 'reservationId is required');
}
export { notFound };
