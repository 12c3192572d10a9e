import { Decimal, WORK_SUBJECTS, deterministicId, isDecimalString } from '@ledgerline/contracts';
import type { ChargeRequest, ChargeResult } from '@ledgerline/contracts';
import type { Db, Sql } from '../persistence/sql';
import { outboxWrite, readTogether, rowsOf } from '../persistence/sql';
import { walletLock, type LockedWalletRow, type WalletPair } from './locks';
import { decideCharge, fmt, invalidCharge, toChargeInput, type BucketState, type WalletState } from '../domain/charging';
import { chargeFingerprint } from '../domain/charge-fingerprint';
import { accountId, chargeKey, newTxId, postTransactions, retryingChargeKeyTaken, type NewTransaction } from './ledger';

export { retryingChargeKeyTaken };
import { bucketLock, toBucketState, type BucketWanted, type LiveBucketRow } from './buckets';
import { bucketUse, bucketUseWrite, emitBalanceEvents, type BucketUse, type WalletChange } from './balance-events';
import { settleAfterCredit } from './one-off-charges';
import { WALLET_BALANCE_FINAL, WALLET_CLOSED, walletClosedMessage, walletFinalMessage } from './wallets';
import { CREDIT_OWED } from './closed-wallet-moves';

export const chargeResultMessageId = (chargeId: string): string => deterministicId('event', 'wallets', 'chargeApplied', chargeId);

/** A ChargeResult: the decision (amounts as written) with the request's echo. */
function result(c: ChargeRequest, outcome: ChargeResult['outcome'], units: string, fromBuckets: string, amount: string, reason?: string): ChargeResult {
  const r: ChargeResult = {
    chargeId: c.chargeId,
    outcome,
    billingAccountId: c.billingAccountId,
    lineId: c.lineId,
    paymentMode: c.paymentMode,
    usageType: c.usageType,
    occurredAt: c.occurredAt,
    units,
    unit: c.unit,
    unitsFromAllowances: fromBuckets,
    amountCharged: amount,
    currency: c.currency,
  };
  if (typeof c.zone === 'string') r.zone = c.zone;
  if (typeof c.adjustsInvoiceId === 'string') r.adjustsInvoiceId = c.adjustsInvoiceId;
  if (typeof c.usageRecordId === 'string') r.usageRecordId = c.usageRecordId;
  if (reason) r.reason = reason;
  return r;
}

const denied = (c: ChargeRequest, reason: string): ChargeResult => result(c, 'DENIED', '0', '0', '0.000000', reason);

/**
 * A charge a closed wallet refuses: usage that occurred at or after the wallet's closedAt (its
 * account was closed). Usage from before it that arrives late is charged as usual, as an ended
 * bucket still serves its own period's late usage.
 */
function refusedAsClosed(c: ChargeRequest, closedAt: Date | null): boolean {
  if (closedAt === null) return false;
  const at = Date.parse(c.occurredAt);
  return !(at < closedAt.getTime());
}

/**
 * Late usage from before a closed wallet's closedAt that arrives once its balance is final: at or
 * after its finalAt (closedAt + WALLETS_CLOSED_LATE_USAGE_GRACE_HOURS), or once the jobs settled it
 * (wallet.settled carried the balance; also when this replica's clock is behind theirs). Not
 * charged: the settled figure is what finance pays out.
 */
function refusedAsFinal(now: Date, wallet: { finalAt: Date | null; settled: boolean }): boolean {
  return wallet.settled || (wallet.finalAt !== null && now.getTime() >= wallet.finalAt.getTime());
}

/** The reason a ChargeResult refusing a reused chargeId starts with (outcome REJECTED); GraphQL answers it as a CONFLICT. */
export const CHARGE_ID_CONFLICT = 'CHARGE_ID_CONFLICT';

/** The answer to a chargeId already taken by another charge: refused, nothing written; it echoes the request it refuses. */
const conflicting = (c: ChargeRequest): ChargeResult =>
  result(c, 'REJECTED', '0', '0', '0.000000', `${CHARGE_ID_CONFLICT}: chargeId ${c.chargeId} was already used for another charge; use a new chargeId for a new charge`);

/**
 * Kind (and request hash) of the ledger row that closes a chargeId (`closeCharge`): no entries. A
 * charge sent under a closed id is answered DENIED with this reason and writes nothing.
 */
export const CHARGE_CLOSED = 'CHARGE_CLOSED';

/** The answer to a charge whose id was closed before it arrived: refused, nothing written. */
const closedAnswer = (c: ChargeRequest): ChargeResult => denied(c, `${CHARGE_CLOSED}: chargeId ${c.chargeId} was closed before this charge arrived (it was settled as never taken); nothing was charged`);

/**
 * What the ledger keeps of a charge's answer: the decision only, with the charge's fingerprint
 * (`request_hash`, see chargeFingerprint). The rest of a ChargeResult echoes the request, and a
 * repeat is the same request again (the fingerprint says so; another charge under the same chargeId
 * is refused), so a replay rebuilds it from the request in hand. Storing the whole result made it a
 * third of the ledger write (measured: ~330 bytes of jsonb per charge).
 */
type ChargeDecision = Pick<ChargeResult, 'outcome' | 'units' | 'unitsFromAllowances' | 'amountCharged' | 'reason'>;

function decisionOf(r: ChargeResult): ChargeDecision {
  const d: ChargeDecision = { outcome: r.outcome, units: r.units, unitsFromAllowances: r.unitsFromAllowances, amountCharged: r.amountCharged };
  if (r.reason !== undefined) d.reason = r.reason;
  return d;
}

/**
 * A repeated charge's answer: its stored decision with the request's echo (a whole stored
 * ChargeResult, as written before, as it is). Only for the same charge: a row with a fingerprint
 * is replayed to a request with that fingerprint; rows written before fingerprints, to any.
 */
function replayed(c: ChargeRequest, stored: ChargeDecision | ChargeResult): ChargeResult {
  if ('chargeId' in stored) return stored;
  return result(c, stored.outcome, stored.units, stored.unitsFromAllowances, stored.amountCharged, stored.reason);
}

/**
 * Where each charge's ChargeResult goes. `outbox` (default): written in the ledger transaction and
 * published by the relay. `caller`: returned only, for a caller that publishes every result after
 * the commit and only then acknowledges what brought the charges (the JetStream consumer): a
 * crash in between redelivers the requests, which are answered again from the ledger, so no
 * result is lost, and each is published under one message id (duplicates are dropped).
 */
export interface ApplyChargesOptions {
  results?: 'outbox' | 'caller';
  /** Called each time a batch's transaction lost a chargeId to a twin and is run again (retryingChargeKeyTaken): the metric. */
  onKeyRetry?: () => void;
}

/**
 * Applies many charges in ONE database transaction: wallets locked once (in id order, so two
 * batches never deadlock), decisions made in memory in arrival order, then the ledger rows,
 * the balances aggregated per account, the threshold events and one ChargeResult per charge
 * written with a handful of statements. A charge already in the ledger (same chargeId, same
 * charge) changes nothing and is answered with its stored result; a chargeId taken by another
 * charge (in the ledger, or earlier in the batch) is answered REJECTED (CHARGE_ID_CONFLICT) and
 * changes nothing. Results: one per chargeId in arrival order (identical copies answered once),
 * then the refusals: a consumer that keeps the last answer per chargeId keeps the charge's own.
 */
export async function applyCharges(db: Db, charges: ChargeRequest[], now: Date, options: ApplyChargesOptions = {}): Promise<ChargeResult[]> {
  return retryingChargeKeyTaken(() => db.tx((sql) => applyChargesIn(sql, charges, now, options)), options.onKeyRetry);
}

export interface LaneOptions extends ApplyChargesOptions {
  /** Transactions applied side by side, each on its own connection. */
  lanes: number;
  /** Charges per transaction. */
  batchSize: number;
  /** Called before each transaction after the first of a lane (e.g. to keep messages leased). */
  onBatch?: () => void;
}

/**
 * Applies many charges as several transactions running side by side ("lanes"), so one lane's
 * statements run in PostgreSQL while another lane's decisions run here. A billing account's
 * charges all go to one lane, in arrival order, so its wallets, buckets and ledger accounts are
 * only ever touched by one lane at a time: lanes never wait for each other's locks, and charges
 * of one account are decided in the order they came. A chargeId is taken once (the first),
 * whichever account it names: its later copies go to the first's lane, where an identical one is
 * answered as the first and another is refused (CHARGE_ID_CONFLICT). Results come back in input
 * order (one per distinct chargeId), then the refusals.
 */
export async function applyChargesInLanes(db: Db, charges: ChargeRequest[], now: Date, options: LaneOptions): Promise<ChargeResult[]> {
  return new ChargeLanes(db, options).apply(charges, now, options.onBatch);
}

/**
 * Lanes that outlive one call: each lane applies its share of a call after its share of the call
 * before, so an account's charges stay in arrival order across calls, but a lane never waits for
 * the other lanes. A consumer that hands over its next fetch while the last is still being
 * written keeps this process deciding one lane's charges while PostgreSQL writes another's; when
 * every call waited for all its lanes, each fetch began with PostgreSQL idle (the first lane
 * being decided) and ended with this process idle (the last lane being written), which cost a
 * third of the throughput on two cores.
 */
export class ChargeLanes {
  private readonly tails: Promise<unknown>[];
  /**
   * The lane each chargeId handed over and not yet finished is on (with how many calls hold it): a
   * later copy goes to that lane whatever account it names, so it waits for the first copy and is
   * answered from the ledger (the first's answer, or REJECTED when it is another charge). On its
   * account's lane it could be applied first (its lane free) or alongside (a unique-key violation
   * failing its whole transaction).
   */
  private readonly inFlight = new Map<string, { lane: number; calls: number }>();

  constructor(private readonly db: Db, private readonly options: Omit<LaneOptions, 'onBatch'>) {
    this.tails = Array.from({ length: Math.max(1, options.lanes) }, () => Promise.resolve());
  }

  /** `onBatch`: called before each transaction after the first of a lane in this call (e.g. to keep its messages leased). */
  async apply(charges: ChargeRequest[], now: Date, onBatch?: () => void): Promise<ChargeResult[]> {
    const lanes: ChargeRequest[][] = this.tails.map(() => []);
    const idsOf: string[][] = this.tails.map(() => []);
    // The lane of each chargeId in this call: its later copies follow the first (applyChargesIn tells them apart).
    const seen = new Map<string, number>();
    for (const c of charges) {
      if (!c || typeof c.chargeId !== 'string') continue;
      const taken = seen.get(c.chargeId);
      if (taken !== undefined) {
        lanes[taken]!.push(c);
        continue;
      }
      const held = this.inFlight.get(c.chargeId);
      if (held) held.calls++;
      const lane = held ? held.lane : laneOf(String(c.billingAccountId), lanes.length);
      if (!held) this.inFlight.set(c.chargeId, { lane, calls: 1 });
      seen.set(c.chargeId, lane);
      lanes[lane]!.push(c);
      idsOf[lane]!.push(c.chargeId);
    }
    const byId = new Map<string, ChargeResult>();
    const refused: ChargeResult[] = [];
    const { batchSize } = this.options;
    await Promise.all(lanes.map((lane, i) => {
      if (lane.length === 0) return undefined;
      const run = this.tails[i]!.then(async () => {
        for (let at = 0; at < lane.length; at += batchSize) {
          if (at > 0) onBatch?.();
          for (const r of await applyCharges(this.db, lane.slice(at, at + batchSize), now, this.options)) {
            if (r.outcome === 'REJECTED') refused.push(r);
            else if (!byId.has(r.chargeId)) byId.set(r.chargeId, r);
          }
        }
      }).finally(() => {
        for (const id of idsOf[i]!) {
          const held = this.inFlight.get(id);
          if (held && --held.calls === 0) this.inFlight.delete(id);
        }
      });
      // The next call's share waits for this one, failed or not (a failed call's messages are redelivered).
      this.tails[i] = run.catch(() => undefined);
      return run;
    }));
    const results = [...seen.keys()].map((id) => byId.get(id)).filter((r): r is ChargeResult => r !== undefined);
    return refused.length === 0 ? results : results.concat(refused);
  }
}

/** A stable lane for a billing account (FNV-1a of its id). */
export function laneOf(billingAccountId: string, lanes: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < billingAccountId.length; i++) h = Math.imul(h ^ billingAccountId.charCodeAt(i), 0x01000193);
  return (h >>> 0) % lanes;
}

const NO_BUCKETS: BucketState[] = [];

/** The allowances a charge may draw on: its allowanceIds, and those a rerate adjustment moves units of (ADR 0019). */
function bucketsWanted(c: ChargeRequest): BucketWanted {
  if (!Array.isArray(c.allowanceMoves) || c.allowanceMoves.length === 0) return c;
  return { billingAccountId: c.billingAccountId, allowanceIds: [...(Array.isArray(c.allowanceIds) ? c.allowanceIds : []), ...c.allowanceMoves.map((m) => m?.allowanceId)] };
}

export async function applyChargesIn(sql: Sql, charges: ChargeRequest[], now: Date, options: ApplyChargesOptions = {}): Promise<ChargeResult[]> {
  // The first copy of each chargeId, with its fingerprint; later copies of other content, once each
  // (an identical copy is the same charge: answered once).
  const firstPrint = new Map<string, string>();
  const batch: ChargeRequest[] = [];
  const prints: string[] = [];
  let copies: { c: ChargeRequest; print: string }[] | null = null;
  for (const c of charges) {
    if (!c || typeof c.chargeId !== 'string') continue;
    const print = chargeFingerprint(c);
    const first = firstPrint.get(c.chargeId);
    if (first === undefined) {
      firstPrint.set(c.chargeId, print);
      batch.push(c);
      prints.push(print);
    } else if (first !== print && !copies?.some((k) => k.c.chargeId === c.chargeId && k.print === print)) (copies ??= []).push({ c, print });
  }
  if (batch.length === 0) return [];
  const pairs = new Map<string, WalletPair>();
  for (const c of batch) pairs.set(`${c.billingAccountId}\u0000${c.currency}`, { acc: String(c.billingAccountId), cur: String(c.currency) });
  // Every read of the batch in one round trip, in lock order (wallets, then buckets): the wallets
  // and their balances, the charges already in the ledger, the buckets the charges may draw on
  // (also a repeated charge's: a lock for nothing, fewer round trips for everyone else).
  const keys = batch.map((c) => chargeKey(c.chargeId));
  const [locked, existing, buckets] = await readTogether<[LockedWalletRow[], StoredCharge[], LiveBucketRow[]]>(
    sql,
    walletLock([...pairs.values()]),
    rowsOf(`select idempotency_key, kind, outcome, request_hash from ledger_transaction where idempotency_key = any($1::text[])`, [keys]),
    bucketLock(batch.filter((c) => (Array.isArray(c.allowanceIds) && c.allowanceIds.length > 0) || Array.isArray(c.allowanceMoves)).map(bucketsWanted)),
  );
  const done = new Map(existing.map((r) => [r.idempotency_key, r]));
  const wallets = new Map<string, WalletState & { low: Decimal | null; start: Decimal; held: Decimal; hasRules: boolean; moneyFrom: string; revenue: string; closedAt: Date | null; finalAt: Date | null; settled: boolean }>();
  for (const w of locked) {
    const balance = new Decimal(w.balance);
    wallets.set(`${w.billing_account_id}\u0000${w.currency}`, {
      // The ledger accounts a charge's money moves between: the cash wallet (prepaid) or the unbilled receivable, and revenue.
      moneyFrom: w.payment_mode === 'PREPAID' ? w.id : accountId(w.billing_account_id, 'UNBILLED_RECEIVABLE', w.currency),
      revenue: accountId(w.billing_account_id, 'REVENUE', w.currency),
      id: w.id,
      billingAccountId: w.billing_account_id,
      currency: w.currency,
      paymentMode: w.payment_mode,
      balance,
      start: balance,
      unbilled: new Decimal(w.unbilled),
      creditLimit: w.credit_limit === null ? null : new Decimal(w.credit_limit),
      overdraftLimit: new Decimal(w.overdraft_limit),
      budgetCommitted: w.payment_mode === 'PREPAID' && w.budget_committed !== null ? new Decimal(w.budget_committed) : null,
      low: w.low_balance_threshold === null ? null : new Decimal(w.low_balance_threshold),
      held: new Decimal(w.held),
      hasRules: w.has_rules,
      closedAt: w.closed_at === null ? null : new Date(w.closed_at),
      finalAt: w.final_at === null ? null : new Date(w.final_at),
      settled: w.settled_at !== null,
    });
  }
  const bucketsByAccount = new Map<string, BucketState[]>();
  const bucketMeta = new Map<string, { row: LiveBucketRow; before: Decimal; state: BucketState }>();
  for (const row of buckets) {
    const state = toBucketState(row);
    bucketMeta.set(row.id, { row, before: state.remaining, state });
    const list = bucketsByAccount.get(row.billing_account_id) ?? [];
    list.push(state);
    bucketsByAccount.set(row.billing_account_id, list);
  }

  const results: ChargeResult[] = [];
  let refused: ChargeResult[] | null = null;
  const fresh: ChargeResult[] = [];
  const txs: NewTransaction[] = [];
  const lastCause = new Map<string, string>();
  // PREPAID wallets a charge credited (a rerate's negative ADJUSTMENT): paid what is due after the write. Rare; empty otherwise.
  let credited: WalletState[] | null = null;
  for (let i = 0; i < batch.length; i++) {
    const c = batch[i]!;
    const previous = done.get(keys[i]!);
    if (previous) {
      // Closed before it came (closeCharge, under these wallets' locks): refused, nothing written.
      if (previous.kind === CHARGE_CLOSED) {
        results.push(closedAnswer(c));
        continue;
      }
      // A one-off's row under the same key (subscribers' charge or credit, taken, refused or owed): its decision.
      if (previous.kind !== 'CHARGE') {
        results.push(oneOffAnswer(c, previous));
        continue;
      }
      // Stored without a fingerprint (before there were): answered as stored, whatever this copy holds.
      if (previous.request_hash === null || previous.request_hash === prints[i]) results.push(replayed(c, previous.outcome));
      else (refused ??= []).push(conflicting(c));
      continue;
    }
    let r: ChargeResult;
    const entries: NewTransaction['entries'] = [];
    const problem = invalidCharge(c);
    const wallet = wallets.get(`${c.billingAccountId}\u0000${c.currency}`);
    if (problem) r = denied(c, `RATING_FAILED: ${problem}`);
    else if (!wallet) r = denied(c, 'USER_UNKNOWN');
    else if (refusedAsClosed(c, wallet.closedAt)) r = denied(c, `${WALLET_CLOSED}: ${walletClosedMessage(wallet.billingAccountId, wallet.currency, wallet.closedAt)}`);
    else if (wallet.closedAt !== null && refusedAsFinal(now, wallet)) r = denied(c, `${WALLET_BALANCE_FINAL}: ${walletFinalMessage(wallet.billingAccountId, wallet.currency, wallet.closedAt, wallet.finalAt)}`);
    else {
      const d = decideCharge(wallet, bucketsByAccount.get(c.billingAccountId) ?? NO_BUCKETS, toChargeInput(c));
      r = result(c, d.outcome, d.units.toFixed(), d.unitsFromBuckets.toFixed(), d.amount.toFixed(6), d.reason);
      for (const p of d.bucketParts) {
        const meta = bucketMeta.get(p.bucketId);
        // What the bucket has used, for a later give-back in this batch (negative parts give back).
        if (meta?.state.used) meta.state.used = meta.state.used.plus(p.units);
        // The bucket's unit: an adjustment's is ITEM, the units it moves are the bucket's (ADR 0019).
        const unit = meta?.row.unit ?? c.unit;
        entries.push({ accountId: p.bucketId, unit, amount: p.units.negated() }, { accountId: accountId(c.billingAccountId, 'ALLOWANCE_USED', unit), unit, amount: p.units });
      }
      if (d.amount.isNegative() && wallet.paymentMode === 'PREPAID' && !credited?.includes(wallet)) (credited ??= []).push(wallet);
      if (!d.amount.isZero()) entries.push({ accountId: wallet.moneyFrom, unit: c.currency, amount: d.amount.negated() }, { accountId: wallet.revenue, unit: c.currency, amount: d.amount });
    }
    const id = newTxId();
    if (wallet && entries.length > 0) lastCause.set(wallet.id, id);
    txs.push({ id, idempotencyKey: keys[i]!, kind: 'CHARGE', billingAccountId: typeof c.billingAccountId === 'string' ? c.billingAccountId.slice(0, 40) : null, requestHash: prints[i]!, reference: c.lineId ?? null, outcome: decisionOf(r), entries });
    results.push(r);
    fresh.push(r);
  }
  if (copies) refused = answerCopies(copies, done, firstPrint, results, refused ?? []);
  // Every bucket read (those not drawn on too): an allowance is judged on all its buckets.
  const bucketUses: BucketUse[] = [];
  for (const list of bucketsByAccount.values()) {
    for (const b of list) {
      const meta = bucketMeta.get(b.id)!;
      bucketUses.push(bucketUse(meta.row, meta.before.minus(b.remaining)));
    }
  }
  const useWrite = bucketUseWrite(bucketUses);
  // Ledger rows, balances, the units used of buckets and (outbox mode) one ChargeResult per new charge: one round trip.
  const outbox = options.results !== 'caller' && fresh.length > 0;
  await postTransactions(sql, txs, now, [
    ...(useWrite ? [useWrite] : []),
    ...(outbox ? [outboxWrite(fresh.map((r) => ({ id: chargeResultMessageId(r.chargeId), subject: WORK_SUBJECTS.chargeApplied, payload: JSON.stringify(r), createdAt: now })))] : []),
  ]);
  if (outbox) sql.eventsQueued = true;

  // Thresholds judge the unspent money (balance + held); a charge leaves what reservations hold as it was.
  const walletChanges: WalletChange[] = [];
  for (const w of wallets.values()) {
    if (!w.balance.equals(w.start)) walletChanges.push({ walletId: w.id, billingAccountId: w.billingAccountId, currency: w.currency, paymentMode: w.paymentMode, lowBalanceThreshold: w.low, before: w.start, after: w.balance, held: { before: w.held, after: w.held }, cause: lastCause.get(w.id) ?? 'batch', hasRules: w.hasRules });
  }
  if (walletChanges.length > 0 || useWrite) await emitBalanceEvents(sql, now, walletChanges, useWrite ? bucketUses : []);
  // A credit pays what is due, as every credit to a prepaid wallet does (settleAfterCredit): only
  // for a batch that credited one, so the usual batch sends nothing more.
  if (credited) for (const w of credited) await settleAfterCredit(sql, w.billingAccountId, w.currency, now);
  return refused ? results.concat(refused) : results;
}

interface StoredCharge {
  idempotency_key: string;
  /** CHARGE, or CHARGE_CLOSED (closeCharge: no decision, `outcome` null), or a one-off's kind under the same key. */
  kind: string;
  /** A one-off's kind keeps its own shape (OneOffDecision, answered by oneOffAnswer). */
  outcome: ChargeDecision | ChargeResult;
  /** The charge's fingerprint; null for a row written before there were (answered as stored). */
  request_hash: string | null;
}

/**
 * What a one-off's ledger row under `CHARGE:<chargeId>` keeps (one-off-charges.ts, closed-wallet-moves.ts,
 * budget.ts): ONE_OFF_CHARGE (`amount` taken; `refused` when a closed wallet refused it, `collected` the part
 * its settlement took), ONE_OFF_CREDIT (`amount` negative: credited), CREDIT_OWED (`amount` owed to the customer).
 */
interface OneOffDecision {
  amount?: string;
  reason?: string;
  refused?: string;
  refusedBecause?: string;
  collected?: string;
}

/**
 * The answer to a charge under a chargeId a one-off already decided (the add-on's charge and its one-off
 * share the id: one charge, one decision, ADR 18): the one-off's decision as a ChargeResult, the request's
 * echo around it, nothing written. Taken whole or credited: APPLIED with its amount (a credit's negative,
 * as an adjustment's), the request's units. Refused by a closed wallet: DENIED with its refusal (PARTIAL
 * with the part its settlement took). Before, the row was answered as stored, without an outcome: GraphQL
 * applyCharge failed and the charges consumer published a result nobody reads.
 */
function oneOffAnswer(c: ChargeRequest, stored: StoredCharge): ChargeResult {
  const d = oneOffDecision(stored.kind, stored.outcome);
  if (d.outcome === 'DENIED') return denied(c, d.reason!);
  if (d.outcome === 'PARTIAL') return result(c, 'PARTIAL', '0', '0', d.amountCharged, d.reason!);
  const units = isDecimalString(String(c.units)) ? new Decimal(String(c.units)).toFixed() : '0';
  return result(c, 'APPLIED', units, '0', d.amountCharged);
}

/** A one-off's decision under its key, as a charge's (oneOffDecision): what both a charge under the id and closeCharge answer. */
export interface OneOffChargeDecision {
  outcome: 'APPLIED' | 'PARTIAL' | 'DENIED';
  /** Taken (positive), credited (negative) or, PARTIAL, collected; six decimals. */
  amountCharged: string;
  /** The closed wallet's refusal (DENIED, PARTIAL); null otherwise. */
  reason: string | null;
  /** The one-off's currency as stored (null on a row without one). */
  currency: string | null;
  /** Money was taken from the customer (APPLIED or PARTIAL with a positive amount): what a caller giving it back would refund. A credit is not. */
  taken: boolean;
}

/**
 * The one place a one-off's ledger row under `CHARGE:<chargeId>` (kind ONE_OFF_CHARGE, ONE_OFF_CREDIT or
 * CREDIT_OWED, its stored `outcome`) is read as a charge's decision: taken whole or credited, APPLIED with its
 * amount (a credit's negative); refused by a closed wallet, DENIED with its refusal (PARTIAL with the part its
 * settlement collected). Used by oneOffAnswer (a charge under the id) and closeCharge.
 */
export function oneOffDecision(kind: string, stored: unknown): OneOffChargeDecision {
  const o = (stored ?? {}) as OneOffDecision & { currency?: string };
  const currency = typeof o.currency === 'string' ? o.currency : null;
  const amount = new Decimal(o.amount ?? 0);
  if (o.refused) {
    const collected = new Decimal(o.collected ?? 0);
    const reason = `${o.refused}: ${o.refusedBecause ?? 'the one-off charge under this chargeId was refused'}`;
    return collected.greaterThan(0)
      ? { outcome: 'PARTIAL', amountCharged: collected.toFixed(6), reason, currency, taken: true }
      : { outcome: 'DENIED', amountCharged: '0.000000', reason, currency, taken: false };
  }
  // CREDIT_OWED keeps what is owed to the customer (positive): a credit, as ONE_OFF_CREDIT's negative amount.
  const charged = kind === CREDIT_OWED ? amount.negated() : amount;
  return { outcome: 'APPLIED', amountCharged: charged.toFixed(6), reason: null, currency, taken: charged.greaterThan(0) };
}

/**
 * Later copies in one batch of a chargeId whose first copy had other content: a copy of the charge
 * the ledger holds is answered with it (when the first copy was not: it was refused), a row without
 * a fingerprint answered the first copy already, anything else is refused. Appends to `results`
 * and returns the refusals.
 */
function answerCopies(copies: { c: ChargeRequest; print: string }[], done: Map<string, StoredCharge>, firstPrint: Map<string, string>, results: ChargeResult[], refused: ChargeResult[]): ChargeResult[] {
  for (const { c, print } of copies) {
    const stored = done.get(chargeKey(c.chargeId));
    // A row without a fingerprint, or a closed id: the first copy's answer is the id's.
    if (stored && (stored.request_hash === null || stored.kind === CHARGE_CLOSED)) continue;
    const held = stored ? stored.request_hash : firstPrint.get(c.chargeId);
    if (print !== held) refused.push(conflicting(c));
    else if (stored && firstPrint.get(c.chargeId) !== held) results.push(replayed(c, stored.outcome));
  }
  return refused;
}

export { fmt };
