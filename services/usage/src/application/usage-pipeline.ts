/**
 * The one path every usage record takes, whatever it came by (GraphQL, JetStream, CSV, reprocess):
 * validate → guide (line → subscription → plan version at the event's time) → rate → persist →
 * charge. One batch is one database transaction: records are inserted with
 * `on conflict (id) do nothing` (id = hash of source and event id), and only records actually
 * inserted get their ChargeRequest, counter increments and threshold events, so a redelivered or
 * resent event is rated and charged once. The record is the outbox of its own charge: its
 * ChargeRequest is stored in the row and published right after the commit (the batch's requests in
 * a few messages, see chargeChunks);
 * the charge sweeper re-publishes any that no ChargeResult answered (a crash between commit and
 * publish). Batches run one at a time per process, so one line's events are
 * rated in order and its live counters (the facts of the next event) move event by event.
 */
import { dec, deterministicId, type AllowancePeriod, type ChargeRequest, type EventName, type FeePeriod } from '@ledgerline/contracts';
import { HOME_ZONE, NO_DESTINATION, ROAMING_LABEL_PREFIX, RatingInputError, type OfferDocument, type RatingResult, type Rater, type SubscriberContext, type UsageEvent } from '@ledgerline/rating';
import { arrayParam, type Clock, type Logger } from '@ledgerline/platform';
import { hash } from 'node:crypto';
import { activeAddOnsAt, lineCountAt, statusAt, versionAt, type LineInfo, type SubscriptionVersion } from '../domain/subscriber';
import { calendarMonthAt, linePeriodAt, poolPeriodAt } from '../domain/period';
import { CounterStore } from './counter-store';
import { storable, validateUsage, type Rejection, type ValidationResult, type ValidUsage } from '../domain/usage-input';
import { LINE_NOT_PARTNERS, TOLD_AS_UNKNOWN_LINE, unknownLine } from '../domain/partner-usage';
import { ownCustomersOnly } from './partner-usage-entitlement';
import { partnersOfAccounts } from './partner-lines';
import { addOnPurchasesAt, applyUsage, setAllowance, TOTAL_BUCKET, usageStateOf, type AddOnAllowances, type AddOnPurchase, type Applied, type LineCounters } from '../domain/live-usage';
import { chargeAmountOf } from '../domain/ledger-money';
import { inSqlTransaction, insertArrayRows, type Sql, type SqlClient } from '../persistence/sql';
import { loadAddOnCounters, loadLineCounters, loadPoolCounters } from './live-usage';
import { eventIdOf, eventRow, insertOutbox, type OutboxRow } from './outbox-rows';
import type { LineDirectory } from './line-directory';
import type { PlanCache } from './plan-cache';
import { createUsageMetrics, type UsageMetrics } from './metrics';
import { billPeriodAt, bookSpend } from '../domain/spend-alert';
import { loadSpendAlertSets, loadSpendCounters, spendAlertNotice, spendKeyOf, spendOwnerOf, type SpendAlertSet, type SpendOf } from './spend-alerts';

export interface IncomingUsage {
  raw: unknown;
  /** Used when the record names no source. */
  source: string;
  /** Used when the record names no eventId (e.g. `csv:<file>:<line>`). */
  eventId?: string;
  /**
   * Set when usage sends a stored record again (reprocessRejected): the fingerprint it was first
   * received with (null: stored before fingerprints). Otherwise the fingerprint of `raw`.
   */
  fingerprint?: string | null;
  /**
   * A record usage makes itself (online charging sessions): exactly once by the session's sequence
   * numbers, so a repeat with other content (a late report stamped with the time it came) is a
   * duplicate, not a conflict. No fingerprint is kept.
   */
  internal?: boolean;
  /**
   * What the ledger already charged for this record (an online session's commit, through its
   * reservation): no ChargeRequest is sent for it, and the record keeps these figures with
   * charge_status APPLIED - also when it is stored REJECTED, so that a reprocess rates it as charged
   * already instead of charging the customer a second time (see precharged in reprocess-rejected.ts).
   */
  precharged?: Precharged;
  /**
   * The partner whose `recordUsage` call sent the record (a PARTNER caller; for a reprocess, its record_sender row).
   * Kept beside the record (record_sender, in its transaction), and a partner with the OWN_CUSTOMERS entitlement gets
   * its records rated only for lines of its own customers (partnerRejections). Absent for the platform's records
   * (SYSTEM, ADMIN, the NATS ingest, the CSV import, online sessions'): nothing of this is done for them.
   */
  sender?: string;
}

/** What a commit charged (wallets' figures; null: not known, readers take the rating's estimate). */
export interface Precharged {
  amountCharged: string | null;
  unitsFromAllowances: string | null;
  /** Units a session used past its grant that the balance could not pay for in full (see UnpaidOverage). */
  unpaid?: UnpaidOverage;
}

/**
 * What a prepaid session's units past its grant left unpaid (charging-session.ts, chargePastGrant): the ledger took
 * what the balance paid, down to its floor, and the rest is written with the record so it is never silent - its
 * `unpaid_amount`, a charge_outcome row (PARTIAL, or DENIED when nothing was paid, with the reason), `overage` in
 * its rating trace, and the `usageSessionOverageUnpaid` event (written with the record, once: not for a duplicate).
 */
export interface UnpaidOverage {
  unpaidAmount: string;
  outcome: 'PARTIAL' | 'DENIED';
  reason: string;
  /** The units the ledger paid (charge_outcome.granted_units: what a re-rate prices). */
  paidUnits: string;
  /** The rating trace's `overage` (also the event's data, with the record's id and the session's line and account). */
  trace: Record<string, unknown>;
  /** The event's data less the record's id; absent when it was told already (a REJECTED record's reprocess). */
  event?: Record<string, unknown>;
}

export interface UsageOutcome {
  id: string;
  source: string;
  eventId: string;
  /** A duplicate's is the stored record's status (and rejection code and reason). */
  status: 'RATED' | 'REJECTED' | 'RERATED' | 'BILLED';
  /** True when the record was already stored: nothing was done again. */
  duplicate: boolean;
  rejectionCode?: string;
  rejectionReason?: string;
  /**
   * What the partner that sent the record is told instead of rejectionCode / rejectionReason (set only for a sender's
   * records): a line that is not its customer's is told exactly as an unknown line (TOLD_AS_UNKNOWN_LINE). Staff get
   * the outcome as it is.
   */
  toSender?: Rejection;
}


export const RECORD_COLUMNS = [
  'id', 'source', 'event_id', 'line_id', 'msisdn', 'billing_account_id', 'subscription_id', 'plan_version_id', 'usage_type', 'direction',
  'quantity', 'unit', 'occurred_at', 'called_number', 'roaming_country', 'visited_mcc', 'status', 'rejection_code', 'rejection_reason',
  'decision', 'allowance_id', 'charged_units', 'price', 'from_allowance', 'spend', 'currency', 'rating', 'charge_status', 'raw', 'received_at', 'rated_at',
  'charge', 'zone', 'adjusts_invoice_id', 'fingerprint', 'preceding_quantity',
] as const;

/** PostgreSQL types of RECORD_COLUMNS, in order (the batch insert sends one typed array per column). */
const RECORD_TYPES = [
  'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text',
  'numeric', 'text', 'timestamptz', 'text', 'text', 'text', 'text', 'text', 'text',
  'text', 'text', 'numeric', 'numeric', 'numeric', 'numeric', 'text', 'text', 'text', 'text', 'timestamptz', 'timestamptz',
  'text', 'text', 'text', 'text', 'numeric',
] as const;

/**
 * Around the batch insert: each inserted record whose charge waits for wallets goes on the sweeper's
 * work list (pending_charge) in the same statement; its ChargeResult takes it off (apply-charge-result.ts).
 */
const STORE_PENDING = (insert: string) =>
  `with ins as (${insert}), pending as (
     insert into pending_charge (usage_record_id, rated_at, line_id, billing_account_id, spend, from_allowance)
     select id, rated_at, line_id, billing_account_id, spend, from_allowance from ins where charge_status = 'PENDING'
   ) select id from ins`;

/** Where a record's receipt time sits in its row (a reprocess writes the first receipt's there). */
const RECEIVED_AT = RECORD_COLUMNS.indexOf('received_at');
const CHARGE_STATUS = RECORD_COLUMNS.indexOf('charge_status');
const SPEND = RECORD_COLUMNS.indexOf('spend');
const FROM_ALLOWANCE = RECORD_COLUMNS.indexOf('from_allowance');

/**
 * What the ledger charged for precharged records (see IncomingUsage.precharged), written in the
 * batch's transaction: the record never exists without them (a REJECTED one keeps them for its reprocess).
 */
const WRITE_PRECHARGED = `update usage_record u set amount_charged = x.amount, units_from_allowances = x.units, unpaid_amount = x.unpaid
  from unnest($1::text[], $2::numeric[], $3::numeric[], $4::numeric[]) as x(id, amount, units, unpaid) where u.id = x.id and u.charge_status = 'APPLIED'`;

/**
 * The ledger's outcome of a precharged record whose overage was not paid in full (UnpaidOverage): readers take
 * charge_outcome over the record's own columns (CHARGE_STATUS_OF), so the record reads PARTIAL / DENIED with its reason.
 */
const WRITE_UNPAID_OUTCOME = `insert into charge_outcome (usage_record_id, outcome, amount_charged, units_from_allowances, reason, granted_units)
  select * from unnest($1::text[], $2::text[], $3::numeric[], $4::numeric[], $5::text[], $6::numeric[]) on conflict (usage_record_id) do nothing`;

/**
 * Reprocess only: the REJECTED rows being replaced are deleted, and what they were goes to
 * usage_rejection_history (code, reason, the payload as sent, received, rejected - the reprocess
 * before it, for a record rejected again - and reprocessed now). Answers each deleted row's receipt
 * time: the replacement keeps it.
 */
const REPLACE_REJECTED = `with gone as (
    delete from usage_record where id = any($1::text[]) and status = 'REJECTED'
    returning id, rejection_code, rejection_reason, raw, received_at
  ), kept as (
    insert into usage_rejection_history (record_id, rejection_code, rejection_reason, raw, received_at, rejected_at, reprocessed_at)
    select g.id, g.rejection_code, g.rejection_reason, g.raw, g.received_at,
      coalesce((select max(h.reprocessed_at) from usage_rejection_history h where h.record_id = g.id), g.received_at), $2
    from gone g
  )
  select id, received_at from gone`;

/** An invoice that billed an account's period: a later event in it is an adjustment on the next invoice. */
export interface BilledPeriod {
  invoiceId: string;
  start: Date;
  end: Date;
}

export function recordId(source: string, eventId: string): string {
  return deterministicId('usageRecord', source, eventId);
}

/**
 * Sources only usage itself writes: `ocs`, the records of online charging sessions (named by
 * session and sequence number). A record from outside (recordUsage, JetStream, CSV) naming one is
 * REJECTED `SOURCE_RESERVED` and stored under an id of its own, so it can never take a session
 * record's id first (the session's own record would then be a duplicate or a conflict).
 */
export const SESSION_SOURCE = 'ocs';
export const RESERVED_SOURCES: ReadonlySet<string> = new Set([SESSION_SOURCE]);
export const SOURCE_RESERVED = 'SOURCE_RESERVED';

/** `v` as a record from outside may be: refused when it names a reserved source, with the id source it is then stored under. */
function fromOutside(v: ValidationResult): { v: ValidationResult; idSource: string } {
  const source = v.ok ? v.usage.source : v.source;
  if (!RESERVED_SOURCES.has(source)) return { v, idSource: source };
  const rejection = { code: SOURCE_RESERVED, reason: `source "${source}" is reserved for records usage makes itself (online charging sessions); send usage under a source of your own` };
  return { v: { ok: false, source, eventId: v.ok ? v.usage.eventId : v.eventId, rejection, partial: v.ok ? v.usage : v.partial }, idSource: `outside:${source}` };
}

/** The answer to a record sent again under a known (source, eventId) with other content: refused, nothing stored. */
export const EVENT_ID_CONFLICT = 'EVENT_ID_CONFLICT';

/**
 * What makes two records sent under one (source, eventId) the same record (CONVENTIONS rule 5:
 * same key + same input is a duplicate, other input a conflict): a hash of the record as sent, in
 * canonical JSON - keys sorted at every level, null members left out (the validator reads null as
 * missing; GraphQL gives absent fields as null), and the top-level `source` and `eventId` left out
 * (they are the key, and may come from the batch instead). A text that is not JSON (a broken
 * JetStream message) is hashed as it is.
 */
export function fingerprintOf(raw: unknown): string {
  return hash('sha256', typeof raw === 'string' ? `text:${raw}` : canonicalJson(raw, true), 'base64url');
}

function canonicalJson(value: unknown, top = false): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  const o = value as Record<string, unknown>;
  let out = '';
  for (const key of Object.keys(o).sort()) {
    const v = o[key];
    if (v === null || v === undefined || (top && (key === 'source' || key === 'eventId'))) continue;
    out += `${out ? ',' : ''}${JSON.stringify(key)}:${canonicalJson(v)}`;
  }
  return `{${out}}`;
}

/** What the duplicate check reads of a stored record. */
interface StoredRecord {
  status: UsageOutcome['status'];
  rejection_code: string | null;
  rejection_reason: string | null;
  fingerprint: string | null;
}

interface Prepared {
  id: string;
  row: unknown[];
  lineId?: string;
  period?: string;
  billingAccountId?: string;
  outbox: OutboxRow[];
  /** Counters key of the account pool the record drew from (shared allowance), if any. */
  poolKey?: string;
  /** Counters key of the add-on purchase the record drew from, if any. */
  addOnKey?: string;
  /** Counters key of its account's spend in the bill period (accounts with spend alerts only). */
  spendKey?: string;
  /** The ChargeRequest (JSON) published after commit, if the record is charged. */
  charge?: string;
  /** Answered without being stored (EVENT_ID_CONFLICT): no write, no counters. */
  refused?: boolean;
  /** Charged already by the ledger (charge_status APPLIED): its figures, written with the record. */
  precharged?: Precharged;
  /** The partner that sent it (IncomingUsage.sender): written to record_sender with the record. */
  sender?: string;
  outcome: UsageOutcome;
}

/** What the notice events of a rated event are made of (see UsagePipeline.noticeEvents). */
export interface NoticeContext {
  id: string;
  line: LineInfo;
  version: SubscriptionVersion;
  linePeriod: AllowancePeriod;
  poolPeriod?: AllowancePeriod;
  pool?: LineCounters;
  /** The event drew on the account's shared pool. */
  shared: boolean;
  /** The add-on purchase the event drew on, if any. */
  purchase?: AddOnPurchase;
  purchases?: Map<string, AddOnPurchase>;
  rater: Rater;
  offers: readonly OfferDocument[];
  result: RatingResult;
  crossed: Applied['crossed'];
  now: Date;
}

/** How many committed writes the pipeline remembers the ids of (a duplicate check further back is done again). */
const COMMITS_KEPT = 64;

/** Why a record sent again under a known (source, eventId) with other content is refused. */
function conflictReason(source: string, eventId: string, known: StoredRecord): string {
  return `eventId "${eventId.slice(0, 128)}" of source "${source.slice(0, 64)}" was received before with other content (${known.status}${known.rejection_code ? ` ${known.rejection_code}` : ''}); new usage needs a new eventId${known.status === 'REJECTED' ? ', and a rejected record is fixed with reprocessRejected (patch)' : ''}`;
}

/**
 * Whether a partner is told a stored rejection as an unknown line: LINE_NOT_PARTNERS always (the code is staff's), and,
 * when the partner is limited to its own customers, each code of TOLD_AS_UNKNOWN_LINE.
 */
function toldAsUnknown(code: string, ownCustomersOnly: boolean): boolean {
  return ownCustomersOnly ? TOLD_AS_UNKNOWN_LINE.has(code) : code === LINE_NOT_PARTNERS;
}

/** A record this batch writes (not a duplicate, not refused). */
const toWrite = (p: Prepared): boolean => !p.outcome.duplicate && !p.refused;

export interface PipelineDeps {
  sql: Sql;
  directory: LineDirectory;
  plans: PlanCache;
  clock: Clock;
  logger: Logger;
  /** Called after a commit that wrote outbox rows. */
  onCommit?: () => void;
  /**
   * Publishes committed ChargeRequests (subject WORK_SUBJECTS.chargeRequested, in chunks).
   * Without it (or when it fails) the charge sweeper publishes them later.
   */
  publishCharges?: (charges: { id: string; payload: string }[]) => Promise<void>;
  /** Where rejections and ratings are counted (default: a registry nobody serves). */
  metrics?: UsageMetrics;
  /** How long an account's spend alerts are used as read before they are read again (default 60,000 ms, USAGE_SPEND_ALERT_CACHE_MS). */
  spendAlertCacheMs?: number;
}

export class UsagePipeline {
  private chain: Promise<unknown> = Promise.resolve();
  /** Time spent per stage (ms, summed over batches; persist and publish overlap the next batch's rating). */
  readonly stats = { batches: 0, events: 0, lookupMs: 0, rateMs: 0, persistMs: 0, publishMs: 0, counterLoads: 0 };
  private readonly counters = new CounterStore();
  /** Billed periods per billing account (loaded on first use, dropped when an invoice arrives). */
  private readonly billed = new Map<string, BilledPeriod[]>();
  /**
   * Ids of threshold, notification and offer events known to be emitted (in emitted_event): a
   * later event asking for one again is skipped here, without a statement (see insertOutbox).
   */
  private readonly emitted = new Set<string>();
  /**
   * Spend alerts per billing account (loaded on first use, one statement per batch for the accounts not known yet;
   * NO_ALERTS for an account without any, so its events cost a map lookup), dropped when an alert of the account
   * changes here (forgetSpendAlerts) and read again after `spendAlertCacheMs` (an alert set through another
   * instance of the service; `at`: performance.now() when read).
   */
  private readonly spendAlerts = new Map<string, { set: SpendAlertSet | typeof NO_ALERTS; at: number }>();
  /** How many times an account's alerts were forgotten (spendAlertSetsOf caches nothing it read across one). */
  private spendAlertsForgotten = 0;

  private readonly metrics: UsageMetrics;

  constructor(readonly deps: PipelineDeps) {
    this.metrics = deps.metrics ?? createUsageMetrics();
  }

  /**
   * Rating runs one batch after another (per process), whoever calls: one line's events are rated
   * in order against counters that include every event before them. Persisting a rated batch is
   * not in that queue: while batch k is written, batch k+1 is already being rated, and several
   * writes run side by side on the pool (the in-memory counters already hold their effects).
   */
  async process(items: IncomingUsage[], options: { reprocess?: boolean } = {}): Promise<UsageOutcome[]> {
    // Validation, ids, the duplicate check and line lookups do not depend on the counters: they run
    // now, beside the rating of earlier batches; the rating itself waits for its turn (call order).
    const timer = this.metrics.batchSeconds.startTimer();
    const looked = this.lookup(items, options.reprocess ?? false);
    looked.catch(() => undefined);
    const rated = this.chain.then(async () => this.run(items, await looked));
    this.chain = rated.catch(() => undefined);
    const { prepared, touched, now, sent } = await rated;
    // The ids `run` marked as being written (persist may still find some stored by another writer).
    const writtenIds = prepared.filter(toWrite).map((p) => p.id);
    const t0 = performance.now();
    const write = this.persist(prepared, options.reprocess ?? false, now, sent).then(async () => {
      const t1 = performance.now();
      this.stats.persistMs += t1 - t0;
      await this.publish(prepared);
      this.stats.publishMs += performance.now() - t1;
    });
    this.inflight.add(write);
    try {
      await write;
    } catch (error) {
      // The in-memory counters moved with events that were not stored: reload them before the next batch
      // (once the other writes in flight have committed: the reload must find their records).
      void this.dropAfterWrites(() => {
        for (const key of touched) this.counters.delete(key);
      });
      throw error;
    } finally {
      this.inflight.delete(write);
      for (const id of writtenIds) this.writing.delete(id);
    }
    timer();
    for (const p of prepared) {
      if (p.outcome.duplicate) continue;
      if (p.outcome.status === 'REJECTED') this.metrics.rejected.inc({ reason: p.outcome.rejectionCode ?? 'UNKNOWN' });
      else this.metrics.rated.inc();
    }
    // Refused, not stored: the sender is told (GraphQL) or the message acked (JetStream: a redelivery would be refused again).
    const refused = prepared.filter((p) => p.refused);
    if (refused.length > 0) {
      this.deps.logger.warn({ refused: refused.length, records: refused.slice(0, 10).map((p) => ({ id: p.id, source: p.outcome.source, eventId: p.outcome.eventId })) }, 'usage records refused: their (source, eventId) was received before with other content (EVENT_ID_CONFLICT)');
    }
    return prepared.map((p) => p.outcome);
  }

  /**
   * Resolves once every batch handed to `process` so far is rated (their writes may still be in
   * flight). A consumer that waits for it before taking its next batch gets one batch of what
   * arrived meanwhile: taken at once it would be a batch of a few events queueing behind the
   * rating anyway, each with a transaction and round trips of its own (at 5,000 events/s, batches
   * of 1-50 events were most of them and cost the CPU that made the latency).
   */
  ratingDone(): Promise<void> {
    return this.chain.then(() => undefined);
  }

  private readonly inflight = new Set<Promise<unknown>>();
  /** Ids of records rated and not yet written (their batch's write is in flight). */
  private readonly writing = new Set<string>();

  /** Forget cached counters (e.g. after a re-rate rewrote them), in turn with the batches (see dropAfterWrites). */
  resetCounters(): Promise<void> {
    return this.dropAfterWrites(() => this.counters.clear());
  }

  /**
   * Drops in-memory counters at the next turn of the rating queue, once every write in flight has
   * settled. Dropped counters are loaded again from usage_record by the next batch that needs
   * them, and the batches rated before are in the counters but maybe not yet committed (batch k+1
   * is rated while batch k is written): reloaded before their commit, the counters would lose
   * them (a threshold crossing missed, a period-graduated price charged at a lower-volume tier).
   * Only a drop waits; the batches rate beside the writes of the ones before them otherwise.
   */
  private dropAfterWrites(drop: () => void): Promise<void> {
    const run = this.chain.then(async () => {
      await Promise.allSettled([...this.inflight]);
      drop();
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Resolves once every batch queued so far is rated and its write has settled (committed or
   * failed), without holding back the batches queued after this call: what those batches stored is
   * then in usage_record (e.g. usage rejected as waiting for its line, looked for once the line is
   * known: reprocessWaiting).
   */
  async writesSettled(): Promise<void> {
    // A batch's write joins `inflight` as soon as its turn in the queue ends (before the next turn).
    await this.chain;
    await Promise.allSettled([...this.inflight]);
  }

  /**
   * An invoice billed a period of this account: its late events from now on adjust that invoice (the
   * next batch of the account reads its billed periods again). Resolves once every batch rated before
   * this drop - maybe with the billed periods as they were before the invoice - is written (committed
   * or failed); the batches rated after it are not waited for (see mark-billed.ts, recordsStoredMeanwhile).
   */
  forgetBilledPeriods(billingAccountId: string): Promise<void> {
    const dropped = this.chain.then(() => {
      this.billed.delete(billingAccountId);
      // A batch's write joins `inflight` as soon as its turn in the queue ends: every batch rated before is here or done.
      return [...this.inflight];
    });
    this.chain = dropped.catch(() => undefined);
    return dropped.then(async (writes) => void (await Promise.allSettled(writes)));
  }

  /** How many batches have stored records so far (a sequence number, counted after each commit). */
  get writesCommitted(): number {
    return this.commits;
  }

  /** Publishes the charges of records this batch stored; a failure leaves them to the sweeper. */
  private async publish(prepared: Prepared[]): Promise<void> {
    const charges = prepared.filter((p) => p.charge && !p.outcome.duplicate).map((p) => ({ id: p.id, payload: p.charge! }));
    if (charges.length === 0 || !this.deps.publishCharges) return;
    try {
      await this.deps.publishCharges(charges);
    } catch (error) {
      this.deps.logger.warn({ err: error, charges: charges.length }, 'publishing ChargeRequests failed; the charge sweeper will re-publish them');
    }
  }

  /**
   * An alert of the account was set or cleared: the next batch reads its alerts again, and counts its spend afresh
   * (while it had none, its events were not counted in the spend counters). Only inside exclusive(), as
   * setSpendAlert calls it: the batches rated before it are written, the next ones see the change.
   */
  forgetSpendAlerts(billingAccountId: string): void {
    this.spendAlertsForgotten++;
    this.spendAlerts.delete(billingAccountId);
    this.counters.dropOwner(spendOwnerOf(billingAccountId));
  }

  /**
   * The spend alerts of these accounts (only those that have any) for a path beside the rating (a ChargeResult):
   * from the rating path's cache, one statement for the accounts not known (or read too long ago), so an account
   * without alerts costs a map lookup here as well. What it reads is cached, but for an account found with alerts where
   * none were known: its spend must then be counted afresh once the writes in flight are committed, which the rating
   * path does when it finds that change itself (loadSpendAlerts' `started`). Nothing is cached when an alert changed
   * meanwhile (setSpendAlert's forget would be undone by what was read before it).
   */
  async spendAlertSetsOf(accounts: Iterable<string>): Promise<Map<string, SpendAlertSet>> {
    const at = performance.now();
    const ttl = this.deps.spendAlertCacheMs ?? 60_000;
    const out = new Map<string, SpendAlertSet>();
    const missing: string[] = [];
    for (const a of new Set(accounts)) {
      const known = this.spendAlerts.get(a);
      if (!known || at - known.at > ttl) missing.push(a);
      else if (known.set !== NO_ALERTS) out.set(a, known.set);
    }
    if (missing.length === 0) return out;
    const forgotten = this.spendAlertsForgotten;
    const sets = await loadSpendAlertSets(this.deps.sql, missing);
    const keep = forgotten === this.spendAlertsForgotten;
    if (keep && this.spendAlerts.size > 200_000) this.spendAlerts.clear();
    for (const a of missing) {
      const set = sets.get(a);
      if (set) out.set(a, set);
      const before = this.spendAlerts.get(a)?.set;
      if (keep && (!set || (before !== undefined && before !== NO_ALERTS))) this.spendAlerts.set(a, { set: set ?? NO_ALERTS, at });
    }
    return out;
  }

  /** Only inside exclusive() (every write in flight is settled there, so a reload finds them). */
  dropCounters(): void {
    this.counters.clear();
  }

  /**
   * The ledger settled a line's charge differently from the estimate, or its bundle restarted: its
   * counters (and its account's pools) are loaded again, after the writes in flight (see dropAfterWrites).
   */
  invalidateCounters(lineId: string, billingAccountId?: string): void {
    void this.dropAfterWrites(() => {
      this.counters.dropOwner(lineId);
      if (billingAccountId) {
        this.counters.dropOwner(poolOwnerOf(billingAccountId));
        this.counters.dropOwner(spendOwnerOf(billingAccountId));
      }
    });
  }

  /** Runs `work` between batches, once every write in flight is committed (nothing else rates meanwhile). */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(async () => {
      await Promise.allSettled([...this.inflight]);
      return work();
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async lookup(items: IncomingUsage[], reprocess: boolean) {
    const now = this.deps.clock.now();
    const started = performance.now();
    // Records usage makes itself, and stored records sent again (reprocess: their ids are already theirs), may name a reserved source.
    let senders: Set<string> | undefined;
    const checked = items.map((item) => {
      if (item.sender !== undefined) (senders ??= new Set()).add(item.sender);
      // Only usage's own session records (made now, or stored and reprocessed) may be later parts of a call.
      const v = validateUsage(item.raw, { source: item.source, eventId: item.eventId, partsOf: item.internal || reprocess ? SESSION_SOURCE : undefined }, now);
      return item.internal || reprocess ? { v, idSource: v.ok ? v.usage.source : v.source } : fromOutside(v);
    });
    const validated = checked.map((c) => c.v);
    const ids = checked.map(({ v, idSource }) => recordId(idSource, v.ok ? v.usage.eventId : v.eventId));
    const fingerprints = items.map((item) => (item.internal ? null : item.fingerprint !== undefined ? item.fingerprint : fingerprintOf(item.raw)));

    // Records already stored (and, when reprocessing, no longer rejected) are duplicates: skipped before rating.
    // `commits` before the query: `run` checks again for what writes committed after it stored.
    const commits = this.commits;
    const stored = await this.storedRecords(ids, reprocess);
    // Partners' records only (the platform's batches have no sender: nothing here): which senders are limited to their own customers.
    const restricted = senders ? await this.restrictedSenders(items, senders) : undefined;
    await this.deps.directory.prefetch(
      validated.flatMap((v) => (v.ok && v.usage.lineId ? [v.usage.lineId] : [])),
      validated.flatMap((v) => (v.ok && !v.usage.lineId && v.usage.msisdn ? [v.usage.msisdn] : [])),
    );
    this.stats.lookupMs += performance.now() - started;
    return { now, validated, ids, fingerprints, stored, commits, reprocess, sent: senders !== undefined, restricted };
  }

  /** Per item, the sender when its entitlement is OWN_CUSTOMERS (undefined: not a partner's, or an ANY_LINE partner's); undefined when none is. */
  private async restrictedSenders(items: IncomingUsage[], senders: Set<string>): Promise<(string | undefined)[] | undefined> {
    const own = await ownCustomersOnly(this.deps.sql, senders);
    return own.size === 0 ? undefined : items.map((item) => (item.sender !== undefined && own.has(item.sender) ? item.sender : undefined));
  }

  /**
   * The check of a partner limited to its own customers (`restricted`: the sender per item), on the records whose line
   * was found: the line's subscription at the record's time must bill an account assigned to that partner (the rule of
   * partnerMayCharge, for the batch in one statement: partnersOfAccounts). Per item, the rejection it gets instead of
   * being rated: LINE_NOT_PARTNERS when the account is not the partner's (another partner's customer, the operator's
   * own, an account no partner was given); SUBSCRIPTION_NOT_FOUND, a waiting code, when the line had no subscription
   * then (no account: the usage may have come before the line's events, and its reprocess checks again). Both are told
   * to the partner as an unknown line. Made before any other look at the line (its number, status or plan), so what a
   * partner is told of a line not its customer's is what it is told of a line that does not exist.
   */
  private async partnerRejections(validated: ValidationResult[], lines: (LineInfo | undefined)[], restricted: (string | undefined)[]): Promise<(Rejection | undefined)[]> {
    const out: (Rejection | undefined)[] = new Array(validated.length);
    const accounts: (string | undefined)[] = new Array(validated.length);
    for (let i = 0; i < validated.length; i++) {
      const v = validated[i];
      const line = lines[i];
      if (restricted[i] === undefined || !v.ok || !line) continue;
      const version = versionAt(line, v.usage.occurredAt);
      if (version) accounts[i] = version.billingAccountId;
      else out[i] = { code: 'SUBSCRIPTION_NOT_FOUND', reason: `line ${line.lineId} had no subscription at ${v.usage.occurredAt.toISOString()}` };
    }
    const wanted = [...new Set(accounts.filter((a): a is string => a !== undefined))];
    if (wanted.length === 0) return out;
    const partners = await partnersOfAccounts(this.deps.sql, wanted);
    for (let i = 0; i < validated.length; i++) {
      const account = accounts[i];
      const partner = restricted[i];
      if (account === undefined || partner === undefined || partners.get(account) === partner) continue;
      const v = validated[i] as Extract<ValidationResult, { ok: true }>;
      out[i] = {
        code: LINE_NOT_PARTNERS,
        reason: `line ${lines[i]!.lineId} was billed to billing account ${account} at ${v.usage.occurredAt.toISOString()}, which is not assigned to partner ${partner}, the record's sender; its usage entitlement is OWN_CUSTOMERS (staff may grant ANY_LINE: setPartnerUsageEntitlement)`,
      };
    }
    return out;
  }

  /** Records already stored (when reprocessing: those no longer REJECTED), by id. */
  private async storedRecords(ids: string[], reprocess: boolean): Promise<Map<string, StoredRecord>> {
    const { rows } = await this.deps.sql.query<StoredRecord & { id: string }>(
      `select id, status, rejection_code, rejection_reason, fingerprint from usage_record where id = any($1::text[])${reprocess ? " and status <> 'REJECTED'" : ''}`,
      [arrayParam(ids)],
    );
    return new Map(rows.map((r) => [r.id, r]));
  }

  /** Writes committed so far (a sequence number), and the ids each of the last COMMITS_KEPT stored. */
  private commits = 0;
  private readonly committed: { seq: number; ids: string[] }[] = [];

  /** Whether a write committed after a duplicate check that saw `seen` commits stored one of `ids` (true when that is further back than what is kept). */
  private storedSince(seen: number, ids: string[]): boolean {
    if (this.commits === seen || ids.length === 0) return false;
    const since = this.committed.filter((c) => c.seq > seen);
    if (since.length < this.commits - seen) return true;
    const mine = new Set(ids);
    return since.some((c) => c.ids.some((id) => mine.has(id)));
  }

  private async run(items: IncomingUsage[], looked: Awaited<ReturnType<UsagePipeline['lookup']>>): Promise<{ prepared: Prepared[]; touched: Set<string>; now: Date; sent: boolean }> {
    const { now, validated, ids, fingerprints, stored } = looked;
    const started = performance.now();
    if (ids.some((id) => this.writing.has(id))) {
      // A redelivery of events whose first delivery is still being written (the broker's ack wait
      // ran out): wait for those writes (what they stored is found just below), and reload the
      // counters (a failed write left its effects in them).
      await Promise.allSettled([...this.inflight]);
      this.counters.clear();
    }
    // Records a write stored after this batch's duplicate check (a second reprocess of the same
    // records, a client resending a batch still in the pipeline, a redelivery): rated again, they
    // would move the live counters a second time, and the batches rated before the insert found
    // them stored would see the doubled counters (lost threshold crossings, false 100 % notices).
    // Known in memory which ids the writes since then stored: one more check only when one is here.
    const unknown = ids.filter((id) => !stored.has(id));
    if (this.storedSince(looked.commits, unknown)) {
      for (const [id, r] of await this.storedRecords(unknown, looked.reprocess)) stored.set(id, r);
    }
    // Each event's line, taken from the directory once: its cache is bounded, and the next batches'
    // lookups (loading their lines while this batch is rated) may push this batch's lines out of it.
    let lines = this.linesOf(validated);
    // The directory may have dropped a line since the lookup (an event, or other loads): load it again.
    if (validated.some((v, i) => v.ok && !lines[i])) {
      await this.deps.directory.prefetch(
        validated.flatMap((v) => (v.ok && v.usage.lineId ? [v.usage.lineId] : [])),
        validated.flatMap((v) => (v.ok && !v.usage.lineId && v.usage.msisdn ? [v.usage.msisdn] : [])),
      );
      lines = this.linesOf(validated);
    }
    // A partner limited to its own customers: records for other lines are rejected before anything else is loaded for them.
    const withheld = looked.restricted ? await this.partnerRejections(validated, lines, looked.restricted) : undefined;
    const linesToCount = new Map<string, { lineId: string; period: AllowancePeriod }>();
    const accounts = new Set<string>();
    // Each event's allowance period, found once: its counters are loaded for it and it is rated in it.
    const periods: (AllowancePeriod | undefined)[] = new Array(validated.length);
    // Add-on purchases in force at each event (only lines with add-ons): each counted on its own.
    let purchases: (Map<string, AddOnPurchase> | undefined)[] | undefined;
    let purchasesToCount: Map<string, AddOnPurchase> | undefined;
    for (let i = 0; i < validated.length; i++) {
      const v = validated[i];
      const line = lines[i];
      if (!v.ok || !line || withheld?.[i]) continue;
      const version = versionAt(line, v.usage.occurredAt);
      const period = await this.linePeriod(line, version, v.usage.occurredAt);
      periods[i] = period;
      linesToCount.set(`${line.lineId}|${period.period}`, { lineId: line.lineId, period });
      if (version) accounts.add(version.billingAccountId);
      if (version && version.addOns.length > 0) {
        const inForce = this.addOnPurchases(line.lineId, version, v.usage.occurredAt);
        if (inForce) {
          (purchases ??= new Array(validated.length))[i] = inForce;
          for (const p of inForce.values()) (purchasesToCount ??= new Map()).set(p.key, p);
        }
      }
    }
    await this.loadCounters(linesToCount, purchasesToCount);
    await this.loadBilledPeriods(accounts);
    const spendPeriods = await this.loadSpendAlerts(accounts, validated, lines, withheld, now);

    const rating = performance.now();
    this.stats.lookupMs += rating - started;
    const prepared: Prepared[] = [];
    /** Records earlier in this batch, by id: a second copy is a duplicate of the first, or a conflict. */
    const seen = new Map<string, StoredRecord>();
    const touched = new Set<string>();
    for (let i = 0; i < items.length; i++) {
      const v = validated[i];
      const id = ids[i];
      const source = v.ok ? v.usage.source : v.source;
      const eventId = v.ok ? v.usage.eventId : v.eventId;
      const known = stored.get(id) ?? seen.get(id);
      const sender = items[i].sender;
      if (known) {
        // Same key, same record: a duplicate, answered as stored. Other content: refused (a reprocess
        // sends its stored records again with their first fingerprint; records stored before
        // fingerprints have none and are duplicates).
        // A partner is told a stored rejection that would say the line exists as the unknown line it names.
        const told = sender !== undefined && known.rejection_code !== null && toldAsUnknown(known.rejection_code, looked.restricted?.[i] !== undefined) ? unknownLine(v.ok ? v.usage : v.partial) : undefined;
        if (known.fingerprint !== null && fingerprints[i] !== null && known.fingerprint !== fingerprints[i] && !looked.reprocess) {
          const rejectionReason = conflictReason(source, eventId, known);
          prepared.push({ id, row: [], outbox: [], refused: true, outcome: { id, source, eventId, status: 'REJECTED', duplicate: false, rejectionCode: EVENT_ID_CONFLICT, rejectionReason, ...(told ? { toSender: { code: EVENT_ID_CONFLICT, reason: conflictReason(source, eventId, { ...known, rejection_code: told.code }) } } : {}) } });
        } else {
          prepared.push({ id, row: [], outbox: [], outcome: { id, source, eventId, status: known.status, duplicate: true, ...(known.rejection_code ? { rejectionCode: known.rejection_code } : {}), ...(known.rejection_reason ? { rejectionReason: known.rejection_reason } : {}), ...(told ? { toSender: told } : {}) } });
        }
        continue;
      }
      let p: Prepared;
      const partnerRejection = withheld?.[i];
      if (partnerRejection && v.ok) {
        // Not the partner's customer's line (or no subscription then): stored so for staff (the line, no account), told as unknown.
        p = this.rejected(id, source, eventId, v.usage, partnerRejection, items[i].raw, now, { lineId: lines[i]!.lineId });
        p.outcome.toSender = unknownLine(v.usage);
      } else if (!v.ok) {
        p = this.rejected(id, source, eventId, v.partial, v.rejection, items[i].raw, now);
      } else {
        try {
          p = await this.rate(id, v.usage, lines[i], items[i].raw, now, items[i].precharged !== undefined, periods[i], purchases?.[i], spendPeriods?.[i]);
          if (p.lineId) touched.add(`${p.lineId}|${p.period}`);
          if (p.poolKey) touched.add(p.poolKey);
          if (p.addOnKey) touched.add(p.addOnKey);
          if (p.spendKey) touched.add(p.spendKey);
        } catch (error) {
          if (!(error instanceof RatingInputError)) throw error;
          p = this.rejected(id, source, eventId, v.usage, { code: error.code, reason: error.message }, items[i].raw, now);
        }
      }
      // The last of RECORD_COLUMNS: fingerprint, preceding_quantity (an online session's later report: rating's precedingQuantity, kept for a re-rate).
      p.row.push(fingerprints[i], (v.ok ? v.usage.precedingQuantity : v.partial.precedingQuantity) ?? null);
      const precharged = items[i].precharged;
      if (precharged) {
        // Charged already (a session's commit): a REJECTED record keeps that fact too (APPLIED, with the figures), so
        // that its reprocess rates it as charged (no ChargeRequest). A rated one is APPLIED unless it has nothing to charge.
        if (p.outcome.status === 'REJECTED') p.row[CHARGE_STATUS] = 'APPLIED';
        if (p.row[CHARGE_STATUS] === 'APPLIED') p.precharged = precharged;
        if (p.precharged?.unpaid) withUnpaidOverage(p, p.precharged.unpaid, now);
      }
      seen.set(id, { status: p.outcome.status, rejection_code: p.outcome.rejectionCode ?? null, rejection_reason: p.outcome.rejectionReason ?? null, fingerprint: fingerprints[i] });
      if (sender !== undefined) p.sender = sender;
      prepared.push(p);
    }

    this.stats.rateMs += performance.now() - rating;
    this.stats.batches += 1;
    this.stats.events += items.length;
    for (const p of prepared) if (toWrite(p)) this.writing.add(p.id);
    return { prepared, touched, now, sent: looked.sent };
  }

  private rejected(id: string, source: string, eventId: string, partial: Partial<ValidUsage>, rejection: Rejection, raw: unknown, now: Date, extra: Partial<Record<'billingAccountId' | 'lineId' | 'subscriptionId' | 'planVersionId' | 'decision' | 'currency', string>> & { rating?: unknown } = {}): Prepared {
    const row = [
      id, source.slice(0, 64), eventId.slice(0, 128), extra.lineId ?? partial.lineId ?? null, partial.msisdn ?? null, extra.billingAccountId ?? null, extra.subscriptionId ?? null, extra.planVersionId ?? null,
      partial.usageType ?? null, partial.direction ?? null, partial.quantity ?? null, partial.unit ?? null, partial.occurredAt ?? null,
      partial.calledNumber ?? null, partial.roamingCountry ?? null, partial.visitedMcc ?? null, 'REJECTED', rejection.code, rejection.reason,
      extra.decision ?? null, null, null, null, null, null, extra.currency ?? null, extra.rating === undefined ? null : JSON.stringify(extra.rating), 'NONE',
      typeof raw === 'string' ? storable(raw) : JSON.stringify(raw ?? null), now, null,
      null, null, null,
    ];
    return { id, row, outbox: [], outcome: { id, source, eventId, status: 'REJECTED', duplicate: false, rejectionCode: rejection.code, rejectionReason: rejection.reason } };
  }

  /** Each valid event's line as the directory holds it now (by id, or the number's holder at the event's time). */
  private linesOf(validated: ValidationResult[]): (LineInfo | undefined)[] {
    return validated.map((v) => (v.ok ? this.deps.directory.get(v.usage.lineId, v.usage.msisdn, v.usage.occurredAt) : undefined));
  }

  private async rate(id: string, u: ValidUsage, line: LineInfo | undefined, raw: unknown, now: Date, precharged = false, knownPeriod?: AllowancePeriod, inForce?: Map<string, AddOnPurchase>, spendPeriod?: AllowancePeriod): Promise<Prepared> {
    if (!line) return this.rejected(id, u.source, u.eventId, u, unknownLine(u), raw, now);
    if (u.lineId && u.msisdn && line.msisdn && line.msisdn !== u.msisdn) {
      return this.rejected(id, u.source, u.eventId, u, { code: 'SUBSCRIBER_MISMATCH', reason: `line ${u.lineId} has MSISDN ${line.msisdn}, not ${u.msisdn}` }, raw, now, { lineId: line.lineId });
    }
    const version = versionAt(line, u.occurredAt);
    const ids = { lineId: line.lineId, billingAccountId: line.billingAccountId };
    // Judged by the line's status at the event's time: usage from before a suspension or a termination is still rated.
    const status = statusAt(line, u.occurredAt);
    if (status === 'PENDING' || status === 'TERMINATED') {
      return this.rejected(id, u.source, u.eventId, u, { code: `LINE_${status}`, reason: `line ${line.lineId} was ${status} at ${u.occurredAt.toISOString()}` }, raw, now, ids);
    }
    if (!version) return this.rejected(id, u.source, u.eventId, u, { code: 'SUBSCRIPTION_NOT_FOUND', reason: `line ${line.lineId} had no subscription at ${u.occurredAt.toISOString()}` }, raw, now, ids);
    const plan = this.deps.plans.peek(version.planVersionId) ?? (await this.deps.plans.get(version.planVersionId));
    if (!plan.ok) return this.rejected(id, u.source, u.eventId, u, { code: plan.code, reason: plan.reason }, raw, now, guidedOf(line, version));

    const { linePeriod, counters, offers, poolPeriod, poolKey, pool, purchases, addOns } = await this.periodState(line, version, plan.rater, u.occurredAt, knownPeriod, inForce);
    const period = linePeriod.period;
    // Priced on the period's usage before the event.
    const { result: rated, rater, event, ctx } = await this.rateWith(plan.rater, u, id, line, version, counters, pool, addOns);
    if (rated.decision === 'DENIED') {
      return this.rejected(id, u.source, u.eventId, u, { code: rated.denyReason ?? 'DENIED', reason: `rating denied the event: ${rated.denyReason}` }, raw, now, { ...guidedOf(line, version), decision: 'DENIED', currency: rated.currency, rating: traceOf(rated, version.planVersionId) });
    }

    const allowanceSize = rated.allowanceId !== undefined ? allowanceSizeOf(rater, rated.allowanceId, offers) : undefined;
    const shared = pool !== undefined && rated.allowanceId !== undefined && sharedAllowancesOf(rater, offers).has(rated.allowanceId);
    const purchase = !shared && rated.allowanceId !== undefined ? purchases?.get(rated.allowanceId) : undefined;
    const applied = applyUsage(counters, {
      usageType: u.usageType,
      chargedUnits: rated.chargedUnits,
      price: rated.price,
      allowanceId: rated.allowanceId,
      allowanceSize,
    }, shared ? pool : purchase ? addOns!.get(purchase.allowanceId) : undefined);
    // The plan's notify and offer rules read the usage with this event counted: the event that
    // takes the bundle past 80 % (or uses it up) asks for that notice itself, before any later
    // event is charged as overage. Pricing stays what the usage before the event gave.
    const after = { ...ctx, ...usageStateOf(counters, pool, pool ? sharedAllowancesOf(rater, offers) : undefined, addOns) };
    const result = rater.tryNoticesAfterSync(rated, event, after) ?? (await rater.noticesAfter(rated, event, after));
    const rating = traceOf(result, version.planVersionId);
    (rating as Record<string, unknown>).estimate = { fromAllowance: applied.fromAllowance, spend: applied.spend };
    const needsCharge = !dec(result.chargedUnits).isZero() && (result.allowanceId !== undefined || !dec(result.price).isZero());
    const zone = zoneOf(rater, result, u);
    const adjustsInvoiceId = this.billedInvoiceOf(version.billingAccountId, u.occurredAt);
    const charge = needsCharge && !precharged ? JSON.stringify(chargeRequestOf(id, line.lineId, event, version, result, rater, { zone, adjustsInvoiceId })) : undefined;
    // Few events ask for a notice: the rest build nothing for them.
    const outbox = applied.crossed.length > 0 || result.notifications.length > 0 || result.offers.length > 0
      ? this.noticeEvents({ id, line, version, linePeriod, poolPeriod, pool, shared, purchase, purchases, rater, offers, result, crossed: applied.crossed, now })
      : [];
    // The account's spend alerts (only accounts that have any: the batch found the bill period for them).
    const spendKey = spendPeriod ? spendKeyOf(version.billingAccountId, spendPeriod) : undefined;
    if (spendKey) this.spendAlertNotices(id, line, version.billingAccountId, spendKey, spendPeriod!, dec(applied.spend), now, outbox);
    const row = [
      id, u.source, u.eventId, line.lineId, u.msisdn ?? line.msisdn, version.billingAccountId, version.subscriptionId, version.planVersionId, u.usageType, u.direction,
      // The instant as the rated event's ISO text (the same literal as the Date's): formatted once per event.
      u.quantity, u.unit, event.occurredAt, u.calledNumber ?? null, u.roamingCountry ?? null, u.visitedMcc ?? null, 'RATED', null, null,
      'RATED', result.allowanceId ?? null, result.chargedUnits, result.price, applied.fromAllowance, applied.spend, result.currency, JSON.stringify(rating), needsCharge ? (precharged ? 'APPLIED' : 'PENDING') : 'NONE', null, now, now,
      charge ?? null, zone, adjustsInvoiceId ?? null,
    ];
    return { id, row, lineId: line.lineId, period, billingAccountId: version.billingAccountId, outbox, charge, poolKey: shared ? poolKey : undefined, addOnKey: purchase?.key, spendKey, outcome: { id, source: u.source, eventId: u.eventId, status: 'RATED', duplicate: false } };
  }

  /**
   * Books a rated event's spend into its account's bill-period spend and adds to `outbox` the SPEND_ALERT notice of
   * each alert it took to its amount (once per alert, amount and period, for good: see spendAlertNotice). The
   * counters were loaded by the batch (loadSpendAlerts); without them (dropped meanwhile) the event is not checked
   * and the next event on reloaded counters reports what it passed (bookSpend).
   */
  private spendAlertNotices(id: string, line: LineInfo, billingAccountId: string, key: string, period: AllowancePeriod, spend: ReturnType<typeof dec>, now: Date, outbox: OutboxRow[]): void {
    const set = this.spendAlerts.get(billingAccountId)?.set;
    const counters = this.counters.get(key);
    if (!set || set === NO_ALERTS || !counters) return;
    for (const { alert, spent } of bookSpend(counters, line.lineId, spend, set.alerts)) {
      const row = spendAlertNotice(alert, spent, period, { msisdn: alert.lineId === null ? null : line.msisdn, usageRecordId: id }, now);
      if (!this.emitted.has(row.id)) outbox.push(row);
    }
  }

  /**
   * The spend alerts of the batch's accounts (one statement for those not known yet) and, for each event of an account
   * with alerts whose bill period has not ended by `now`, that period; its spend counters are loaded (one statement
   * for the periods not loaded). A period already over tells nothing (its bill is on its way): a late record of it is
   * not checked. Undefined when no account of the batch has alerts: nothing more per event.
   */
  private async loadSpendAlerts(accounts: Set<string>, validated: ValidationResult[], lines: (LineInfo | undefined)[], withheld: (Rejection | undefined)[] | undefined, now: Date): Promise<(AllowancePeriod | undefined)[] | undefined> {
    const at = performance.now();
    const ttl = this.deps.spendAlertCacheMs ?? 60_000;
    const missing = [...accounts].filter((a) => {
      const known = this.spendAlerts.get(a);
      return !known || at - known.at > ttl;
    });
    if (missing.length > 0) {
      if (this.spendAlerts.size > 200_000) this.spendAlerts.clear();
      const sets = await loadSpendAlertSets(this.deps.sql, missing);
      // An account that had no alerts here and has some now (set through another instance, or not seen before): its
      // spend was not counted meanwhile. Counted afresh from the records, once the writes in flight are committed
      // (their records are then in the sums; rated while the account had no alerts, nothing else counted them).
      const started = missing.filter((a) => sets.has(a) && (this.spendAlerts.get(a)?.set ?? NO_ALERTS) === NO_ALERTS);
      if (started.length > 0) {
        await Promise.allSettled([...this.inflight]);
        for (const a of started) this.counters.dropOwner(spendOwnerOf(a));
      }
      for (const a of missing) this.spendAlerts.set(a, { set: sets.get(a) ?? NO_ALERTS, at });
    }
    let out: (AllowancePeriod | undefined)[] | undefined;
    const toLoad = new Map<string, SpendOf>();
    for (let i = 0; i < validated.length; i++) {
      const v = validated[i];
      const line = lines[i];
      if (!v.ok || !line || withheld?.[i]) continue;
      const version = versionAt(line, v.usage.occurredAt);
      const set = version ? this.spendAlerts.get(version.billingAccountId)?.set : undefined;
      if (!version || !set || set === NO_ALERTS) continue;
      const period = billPeriodAt(set.terms, v.usage.occurredAt);
      if (period.end <= now) continue;
      (out ??= new Array(validated.length))[i] = period;
      const key = spendKeyOf(version.billingAccountId, period);
      if (!this.counters.has(key)) toLoad.set(key, { billingAccountId: version.billingAccountId, period });
    }
    if (toLoad.size > 0) {
      this.stats.counterLoads += toLoad.size;
      for (const [key, counters] of await loadSpendCounters(this.deps.sql, [...toLoad.values()])) this.counters.set(key, counters);
    }
    return out;
  }

  /**
   * The threshold, notification and offer events a rated event asks for: once per line (or pool),
   * period and what they are about, for good (remembered in emitted_event: the outbox forgets
   * published rows after OUTBOX_RETENTION_HOURS, and notify / offer rules fire on every event in
   * their band). Their ids name the period by its start: a period's name can pass to another one
   * (a period cut short on the day it began is renamed by its start instant once the cut is known,
   * see linePeriodAt). A re-rate asks for those its replay crosses (rerate-period.ts).
   */
  noticeEvents(e: NoticeContext): OutboxRow[] {
    const { id, line, version, linePeriod, poolPeriod, pool, shared, purchase, purchases, rater, offers, result, now } = e;
    const outbox: OutboxRow[] = [];
    const periodOfEvents = () => ({ period: linePeriod.period, periodStart: linePeriod.start.toISOString(), periodEnd: linePeriod.end.toISOString() });
    const periodOfPool = () => (poolPeriod ? { period: poolPeriod.period, periodStart: poolPeriod.start.toISOString(), periodEnd: poolPeriod.end.toISOString() } : periodOfEvents());
    const once = <T>(name: EventName, subject: string, key: string[], data: () => T): void => {
      if (!this.emitted.has(eventIdOf(name, key))) outbox.push({ ...eventRow(name, subject, key, data(), now), once: true });
    };
    for (const c of e.crossed) {
      // A shared pool crosses its thresholds once per account and plan version (whichever line's event did it).
      // An add-on purchase's: once per purchase (a pass bought again in the period is a new bucket in wallets).
      const bought = c.allowanceId === purchase?.allowanceId ? purchase : undefined;
      if (bought) once('usageThresholdReached', line.lineId, [line.lineId, `addon@${bought.start.toISOString()}`, c.allowanceId, c.threshold], () => ({ lineId: line.lineId, billingAccountId: version.billingAccountId, ...periodOfEvents(), allowanceId: c.allowanceId, addOnCode: bought.code, addOnValidFrom: bought.start.toISOString(), addOnValidTo: bought.end.toISOString(), threshold: c.threshold, usedRatio: c.ratio, usageRecordId: id }));
      else if (shared) once('usageThresholdReached', version.billingAccountId, ['pool', version.billingAccountId, version.planVersionId, periodOfPool().period, c.allowanceId, c.threshold], () => ({ lineId: line.lineId, billingAccountId: version.billingAccountId, ...periodOfPool(), allowanceId: c.allowanceId, shared: true, planVersionId: version.planVersionId, threshold: c.threshold, usedRatio: c.ratio, usageRecordId: id }));
      else once('usageThresholdReached', line.lineId, [line.lineId, linePeriod.start.toISOString(), c.allowanceId, c.threshold], () => ({ lineId: line.lineId, billingAccountId: version.billingAccountId, ...periodOfEvents(), allowanceId: c.allowanceId, threshold: c.threshold, usedRatio: c.ratio, usageRecordId: id }));
    }
    for (const n of result.notifications) {
      // About a shared pool: once per account and plan version, like its thresholds.
      const aboutPool = pool !== undefined && sharedAllowancesOf(rater, offers).has(n.allowanceId ?? result.allowanceId ?? '');
      const bought = aboutPool ? undefined : purchases?.get(n.allowanceId ?? result.allowanceId ?? '');
      const key = aboutPool ? ['pool', version.billingAccountId, version.planVersionId, periodOfPool().period, n.template] : bought ? [line.lineId, `addon@${bought.start.toISOString()}`, n.template] : [line.lineId, linePeriod.start.toISOString(), n.template];
      once('usageNotificationRequested', aboutPool ? version.billingAccountId : line.lineId, key, () => ({ lineId: line.lineId, msisdn: line.msisdn, billingAccountId: version.billingAccountId, ...(aboutPool ? periodOfPool() : periodOfEvents()), template: n.template, channel: n.channel ?? null, threshold: n.threshold, allowanceId: n.allowanceId ?? null, rule: n.rule, usageRecordId: id }));
    }
    // An upsell offer is about the period the customer is in: usage of a period already over when
    // it is rated (a late CDR, a record that waited for its line) offers nothing, as an add-on bought
    // now would not serve it. (Its thresholds and notifications above are facts and stay.)
    const periodOver = linePeriod.end <= now || (shared && poolPeriod !== undefined && poolPeriod.end <= now);
    for (const o of periodOver ? [] : result.offers) {
      once('usageOfferTriggered', line.lineId, [line.lineId, linePeriod.start.toISOString(), o.offerCode], () => ({ lineId: line.lineId, msisdn: line.msisdn, billingAccountId: version.billingAccountId, subscriptionId: version.subscriptionId, ...periodOfEvents(), offerCode: o.offerCode, rule: o.rule, usageRecordId: id }));
    }
    return outbox;
  }

  /**
   * The counters an event of `line` at `at` is rated on and counted in (see rate): its allowance
   * period's (the subscription's, the one wallets grants its buckets for; loaded by the batch), with a
   * plan with shared (pool) allowances the pool's, loaded once per account, plan version and pool
   * period (wallets keeps one pool per account, plan version and allowance), and its add-on
   * purchases', each counted over the purchase's own validity (wallets' bucket of it).
   */
  private async periodState(line: LineInfo, version: SubscriptionVersion, rater: Rater, at: Date, knownPeriod?: AllowancePeriod, inForce?: Map<string, AddOnPurchase>) {
    const linePeriod = knownPeriod ?? linePeriodAt(line, version, feePeriodOf(rater), at);
    const counters = this.countersOf(line.lineId, linePeriod.period);
    const offers = this.deps.plans.knownOffers();
    const poolPeriod = sharedAllowancesOf(rater, offers).size > 0 ? await this.poolPeriod(version, rater, at, linePeriod) : undefined;
    const poolKey = poolPeriod ? poolKeyOf(version.billingAccountId, version.planVersionId, poolPeriod.period) : undefined;
    const pool = poolKey && poolPeriod ? await this.poolCounters(poolKey, version.billingAccountId, version.planVersionId, poolPeriod) : undefined;
    const purchases = inForce ?? (version.addOns.length > 0 ? this.addOnPurchases(line.lineId, version, at) : undefined);
    const addOns = purchases ? await this.addOnCounters(purchases) : undefined;
    return { linePeriod, counters, offers, poolPeriod, poolKey, pool, purchases, addOns };
  }

  /**
   * Rates `u` as the line's next event would be rated, without storing or counting it: on the
   * period's usage as the counters hold it after every batch queued before (in turn with them), as
   * rate() prices an event. Online charging prices the units it holds and commits so (charging-session.ts).
   */
  rateAsNext(rater: Rater, u: ValidUsage, id: string, line: LineInfo, version: SubscriptionVersion): Promise<RatingResult> {
    const run = this.chain.then(async () => {
      const linePeriod = await this.linePeriod(line, version, u.occurredAt);
      await this.loadCounters(new Map([[`${line.lineId}|${linePeriod.period}`, { lineId: line.lineId, period: linePeriod }]]));
      const { counters, pool, addOns } = await this.periodState(line, version, rater, u.occurredAt, linePeriod);
      return (await this.rateWith(rater, u, id, line, version, counters, pool, addOns)).result;
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Rates `u` on the period's usage before it (the counters as they stand; a shared allowance's
   * ratio is the account pool's). Returns the event and context it was rated with, so the caller
   * can evaluate the notify and offer rules on the usage after it (Rater.noticesAfter).
   */
  async rateWith(rater: Rater, u: ValidUsage, id: string, line: LineInfo, version: SubscriptionVersion, counters: LineCounters, pool?: LineCounters, addOns?: ReadonlyMap<string, LineCounters>): Promise<{ result: RatingResult; rater: Rater; event: UsageEvent; ctx: SubscriberContext }> {
    // Only the event's own type is read (a period-graduated tariff's tiers): the others are not written out.
    const usedOfType = counters.get(`type:${u.usageType}`)?.used;
    const periodUsage: Record<string, string> = usedOfType ? { [u.usageType]: usedOfType.toString() } : {};
    const event: UsageEvent = {
      id,
      lineId: line.lineId,
      ...(line.msisdn ? { msisdn: line.msisdn } : {}),
      usageType: u.usageType,
      direction: u.direction,
      quantity: u.quantity,
      ...(u.precedingQuantity ? { precedingQuantity: u.precedingQuantity } : {}),
      occurredAt: u.occurredAt.toISOString(),
      ...(u.calledNumber ? { calledNumber: u.calledNumber } : {}),
      ...(u.roamingCountry ? { roamingCountry: u.roamingCountry } : {}),
      ...(u.visitedMcc ? { visitedMcc: u.visitedMcc } : {}),
    };
    // Buckets rebuilt from the records do not know their size yet: the plan does.
    const maps = pool ? [counters, pool] : [counters];
    if (addOns) for (const c of addOns.values()) maps.push(c);
    for (const map of maps) {
      for (const [key, b] of map) {
        if (b.allowance === null && !b.sized && key !== TOTAL_BUCKET && !key.startsWith('type:')) {
          setAllowance(b, allowanceSizeOf(rater, key, this.deps.plans.knownOffers()) ?? null);
          b.sized = true;
        }
      }
    }
    // Shared allowances: the account pool's ratio, not the line's own share of it.
    const state = usageStateOf(counters, pool, pool ? sharedAllowancesOf(rater, this.deps.plans.knownOffers()) : undefined, addOns);
    const ctx: SubscriberContext = {
      accountType: version.paymentMode,
      lineCount: lineCountAt(line, u.occurredAt),
      lineStatus: lineStatusFact(statusAt(line, u.occurredAt)),
      allowanceUsedRatios: state.allowanceUsedRatios,
      spendInPeriod: state.spendInPeriod,
      activeAddOns: activeAddOnsAt(version, u.occurredAt),
      periodUsage,
    };
    const result = rater.tryRateSync(event, ctx) ?? (await rater.rate(event, ctx));
    return { result, rater, event, ctx };
  }

  private countersOf(lineId: string, period: string): LineCounters {
    const key = `${lineId}|${period}`;
    let c = this.counters.get(key);
    if (!c) {
      c = new Map();
      this.counters.set(key, c);
    }
    return c;
  }

  /** The add-on purchases in force at `at` (see addOnPurchasesAt); the plan is cached by then (the event's period was found with it). */
  private addOnPurchases(lineId: string, version: SubscriptionVersion, at: Date): Map<string, AddOnPurchase> | undefined {
    const plan = this.deps.plans.peek(version.planVersionId);
    if (!plan?.ok) return undefined;
    return addOnPurchasesAt(lineId, version.addOns, at, addOnAllowancesOf(plan.rater, this.deps.plans.knownOffers()));
  }

  /** Each purchase's counters (loaded with the batch's; one query for any still missing), by allowance id. */
  private async addOnCounters(purchases: Map<string, AddOnPurchase>): Promise<Map<string, LineCounters>> {
    const missing = [...purchases.values()].filter((p) => !this.counters.has(p.key));
    if (missing.length > 0) {
      this.stats.counterLoads += missing.length;
      for (const [key, c] of await loadAddOnCounters(this.deps.sql, missing)) this.counters.set(key, c);
    }
    return new Map([...purchases.values()].map((p) => [p.allowanceId, this.counters.get(p.key)!]));
  }

  /** The allowance period live usage counts a line's event in (see linePeriodAt). */
  private async linePeriod(line: LineInfo, version: SubscriptionVersion | undefined, at: Date): Promise<AllowancePeriod> {
    if (!version) return calendarMonthAt(at);
    const plan = this.deps.plans.peek(version.planVersionId) ?? (await this.deps.plans.get(version.planVersionId));
    return linePeriodAt(line, version, plan.ok ? feePeriodOf(plan.rater) : undefined, at);
  }

  /** The period of the account's shared pool at `at` (see poolPeriodAt); the line's own when it is the only member known. */
  private async poolPeriod(version: SubscriptionVersion, rater: Rater, at: Date, linePeriod: AllowancePeriod): Promise<AllowancePeriod> {
    const members = await this.deps.directory.poolMembers(version.billingAccountId, version.planVersionId);
    return poolPeriodAt(members, feePeriodOf(rater), at) ?? linePeriod;
  }

  private async poolCounters(key: string, billingAccountId: string, planVersionId: string, period: AllowancePeriod): Promise<LineCounters> {
    let pool = this.counters.get(key);
    if (!pool) {
      this.stats.counterLoads += 1;
      pool = (await loadPoolCounters(this.deps.sql, [{ billingAccountId, planVersionId, period }])).get(key) ?? new Map();
      this.counters.set(key, pool);
    }
    return pool;
  }

  /** The invoice that already billed the account's period containing `at`, if any. */
  private billedInvoiceOf(billingAccountId: string, at: Date): string | undefined {
    const periods = this.billed.get(billingAccountId);
    if (!periods) return undefined;
    for (const p of periods) if (at >= p.start && at < p.end) return p.invoiceId;
    return undefined;
  }

  private async loadBilledPeriods(accounts: Set<string>): Promise<void> {
    const missing = [...accounts].filter((a) => !this.billed.has(a));
    if (missing.length === 0) return;
    if (this.billed.size > 200_000) this.billed.clear();
    const { rows } = await this.deps.sql.query<{ billing_account_id: string; invoice_id: string; period_start: Date; period_end: Date }>(
      'select billing_account_id, invoice_id, period_start, period_end from billed_period where billing_account_id = any($1::text[]) order by period_start',
      [missing],
    );
    for (const a of missing) this.billed.set(a, []);
    for (const r of rows) this.billed.get(r.billing_account_id)!.push({ invoiceId: r.invoice_id, start: new Date(r.period_start), end: new Date(r.period_end) });
  }

  private async loadCounters(wanted: Map<string, { lineId: string; period: AllowancePeriod }>, purchases?: Map<string, AddOnPurchase>): Promise<void> {
    let missing = [...wanted].filter(([k]) => !this.counters.has(k)).map(([, v]) => v);
    let missingPurchases = purchases ? [...purchases.values()].filter((p) => !this.counters.has(p.key)) : [];
    if (missing.length === 0 && missingPurchases.length === 0) return;
    if (this.counters.size > 200_000) {
      // Everything is loaded again, this batch's lines included: after the writes in flight are committed (see dropAfterWrites).
      await Promise.allSettled([...this.inflight]);
      this.counters.clear();
      missing = [...wanted.values()];
      missingPurchases = purchases ? [...purchases.values()] : [];
    }
    this.stats.counterLoads += missing.length + missingPurchases.length;
    if (missing.length > 0) for (const [key, counters] of await loadLineCounters(this.deps.sql, missing)) this.counters.set(key, counters);
    if (missingPurchases.length > 0) for (const [key, counters] of await loadAddOnCounters(this.deps.sql, missingPurchases)) this.counters.set(key, counters);
  }

  private async persist(prepared: Prepared[], reprocess: boolean, now: Date, sent: boolean): Promise<void> {
    const fresh = prepared.filter(toWrite);
    if (fresh.length === 0) return;
    let wroteOutbox = false;
    await inSqlTransaction(this.deps.sql, async (db) => {
      if (reprocess) await replaceRejected(db, fresh, now);
      const inserted = new Set(
        (await insertArrayRows<{ id: string }>(db, 'usage_record', RECORD_COLUMNS, RECORD_TYPES, fresh.map((p) => p.row), 'on conflict (id) do nothing returning id, charge_status, rated_at, line_id, billing_account_id, spend, from_allowance', STORE_PENDING)).map((r) => r.id),
      );
      const stored = fresh.filter((p) => inserted.has(p.id));
      for (const p of fresh) if (!inserted.has(p.id)) p.outcome.duplicate = true;
      // Who sent a partner's records (only batches with a sender): read by both reprocess paths. A reprocessed record has its row.
      const bySender = sent ? stored.filter((p) => p.sender !== undefined) : [];
      if (bySender.length > 0) {
        await db.query('insert into record_sender (record_id, partner_id) select * from unnest($1::text[], $2::text[]) on conflict (record_id) do nothing', [bySender.map((p) => p.id), bySender.map((p) => p.sender)]);
      }
      const charged = stored.filter((p) => p.precharged);
      if (charged.length > 0) {
        await db.query(WRITE_PRECHARGED, [charged.map((p) => p.id), charged.map((p) => p.precharged!.amountCharged), charged.map((p) => p.precharged!.unitsFromAllowances), charged.map((p) => p.precharged!.unpaid?.unpaidAmount ?? null)]);
        const unpaid = charged.filter((p) => p.precharged!.unpaid);
        if (unpaid.length > 0) {
          const col = (f: (p: Prepared, u: UnpaidOverage) => string | null) => unpaid.map((p) => f(p, p.precharged!.unpaid!));
          await db.query(WRITE_UNPAID_OUTCOME, [col((p) => p.id), col((_, u) => u.outcome), col((p) => p.precharged!.amountCharged ?? '0'), col((p) => p.precharged!.unitsFromAllowances ?? '0'), col((_, u) => u.reason), col((_, u) => u.paidUnits)]);
        }
      }
      wroteOutbox = (await insertOutbox(db, stored.flatMap((p) => p.outbox), this.emitted)) > 0;
    });
    // The live counters took the rating's estimate of a precharged record (spend, from_allowance): where the ledger
    // charged otherwise they are loaded again (as after a ChargeResult), so the next event's facts are the stored records'.
    for (const p of fresh) {
      if (p.outcome.duplicate || !p.precharged || p.outcome.status !== 'RATED' || !p.lineId) continue;
      if (chargedOtherwise(p.precharged.amountCharged, p.row[SPEND]) || chargedOtherwise(p.precharged.unitsFromAllowances, p.row[FROM_ALLOWANCE])) this.invalidateCounters(p.lineId, p.billingAccountId);
    }
    // Committed: batches whose duplicate check ran before this look again when they hold one of these ids (see storedSince).
    const committedIds = fresh.filter((p) => !p.outcome.duplicate).map((p) => p.id);
    if (committedIds.length > 0) {
      this.committed.push({ seq: ++this.commits, ids: committedIds });
      if (this.committed.length > COMMITS_KEPT) this.committed.shift();
    }
    // A record another writer stored first was counted here too: rebuild the counters from the records
    // (after this write and the others in flight: see dropAfterWrites).
    if (fresh.some((p) => p.outcome.duplicate)) void this.dropAfterWrites(() => this.counters.clear());
    if (wroteOutbox) this.deps.onCommit?.();
  }
}

const RATING = RECORD_COLUMNS.indexOf('rating');

/**
 * A precharged record's unpaid overage on the record as prepared: `overage` in its rating trace (a REJECTED record
 * may have none: then the trace is that alone) and the event operators see, written with the record (not again by a reprocess).
 */
function withUnpaidOverage(p: Prepared, unpaid: UnpaidOverage, now: Date): void {
  const trace = typeof p.row[RATING] === 'string' ? (JSON.parse(p.row[RATING] as string) as Record<string, unknown>) : {};
  p.row[RATING] = JSON.stringify({ ...trace, overage: unpaid.trace });
  if (unpaid.event) p.outbox.push(eventRow('usageSessionOverageUnpaid', p.id, [p.id], { ...unpaid.event, usageRecordId: p.id }, now));
}

/** An account known to have no spend alert (see UsagePipeline.spendAlerts). */
const NO_ALERTS = Symbol('noSpendAlerts');

/** Whether the ledger's figure differs from the rating's estimate in the row (a null figure: the estimate stands). */
function chargedOtherwise(figure: string | null, estimate: unknown): boolean {
  return figure !== null && !dec(figure).equals(dec(estimate === null || estimate === undefined ? '0' : String(estimate)));
}

/** The reprocess path's part of persist (see REPLACE_REJECTED): the new rows keep the first receipt's time. */
async function replaceRejected(db: SqlClient, fresh: Prepared[], now: Date): Promise<void> {
  const { rows } = await db.query<{ id: string; received_at: Date }>(REPLACE_REJECTED, [fresh.map((p) => p.id), now]);
  const received = new Map(rows.map((r) => [r.id, r.received_at]));
  for (const p of fresh) {
    const at = received.get(p.id);
    if (at) p.row[RECEIVED_AT] = at;
  }
}

/** What a rejection after guiding records of the line and its subscription (built only for one: few events are rejected). */
function guidedOf(line: LineInfo, version: SubscriptionVersion) {
  return { lineId: line.lineId, billingAccountId: version.billingAccountId, subscriptionId: version.subscriptionId, planVersionId: version.planVersionId };
}

/** What a rated record keeps as dispute evidence: rules fired (in order), prices, buckets, facts. */
export function traceOf(result: RatingResult, planVersionId: string): Record<string, unknown> {
  return {
    planCode: result.planCode,
    planVersion: result.planVersion,
    planVersionId,
    decision: result.decision,
    ...(result.denyReason ? { denyReason: result.denyReason } : {}),
    rules: result.trace,
    allowanceId: result.allowanceId ?? null,
    unit: result.unit ?? null,
    quantity: result.quantity,
    ...(result.precedingQuantity ? { precedingQuantity: result.precedingQuantity } : {}),
    chargedUnits: result.chargedUnits,
    ...(result.increments ? { increments: result.increments } : {}),
    pricePerUnit: result.pricePerUnit ?? null,
    basePrice: result.basePrice,
    price: result.price,
    currency: result.currency,
    adjustments: result.adjustments,
    facts: result.facts,
    ...(result.factsAfter ? { factsAfter: result.factsAfter } : {}),
    notifications: result.notifications,
    offers: result.offers,
    warnings: result.warnings,
  };
}

/**
 * Counters key of an account's shared pools of a plan version in a period (beside the `line|period`
 * keys): wallets keeps one pool per account, plan version and allowance, so lines of the account on
 * another version of the plan draw on other pools. The owner (before the last `|`) is the account's,
 * so a ChargeResult drops the account's pools of every plan version at once.
 */
export function poolKeyOf(billingAccountId: string, planVersionId: string, period: string): string {
  return `${poolOwnerOf(billingAccountId)}|${planVersionId}@${period}`;
}

function poolOwnerOf(billingAccountId: string): string {
  return `pool:${billingAccountId}`;
}

/** How often the plan's allowances come round (wallets' periods; no recurring fee: 30 days). */
export function feePeriodOf(rater: Rater): FeePeriod | undefined {
  return rater.compiled.plan.recurringFee?.period;
}

/** Ids of the shared (pool) allowances of a plan, its add-ons and the offers it can take. */
const sharedCache = new WeakMap<Rater, Set<string>>();

export function sharedAllowancesOf(rater: Rater, offers: readonly OfferDocument[] = []): Set<string> {
  let ids = sharedCache.get(rater);
  if (!ids) {
    const plan = rater.compiled.plan;
    const all = [...plan.allowances, ...(plan.addOns ?? []).flatMap((a) => a.allowances), ...offers.flatMap((o) => o.allowances)];
    ids = new Set(all.filter((a) => a.shared).map((a) => a.id));
    sharedCache.set(rater, ids);
  }
  return ids;
}

/**
 * The per-line allowances of each add-on the plan can take (its own add-ons and the offers), by
 * code, with their validity in days: each purchase of them is counted on its own (see AddOnPurchase).
 * Shared ones stay in the account's pool.
 */
const addOnCache = new WeakMap<Rater, AddOnAllowances>();

export function addOnAllowancesOf(rater: Rater, offers: readonly OfferDocument[] = []): AddOnAllowances {
  let byCode = addOnCache.get(rater);
  if (!byCode) {
    const map = new Map<string, { id: string; days: number | null }[]>();
    for (const a of [...(rater.compiled.plan.addOns ?? []), ...offers]) {
      if (map.has(a.code)) continue;
      map.set(a.code, a.allowances.filter((x) => !x.shared).map((x) => ({ id: x.id, days: x.validity === 'PERIOD' ? (a.validityDays ?? null) : x.validity.days })));
    }
    addOnCache.set(rater, (byCode = map));
  }
  return byCode;
}

/** Size of an allowance of the plan or of one of its add-ons (an unlimited one's fair-use cap); null when unlimited without a cap, undefined when unknown. */
const sizeCache = new WeakMap<Rater, Map<string, string | null | undefined>>();

export function allowanceSizeOf(rater: Rater, allowanceId: string, offers: readonly OfferDocument[] = []): string | null | undefined {
  let sizes = sizeCache.get(rater);
  if (!sizes) sizeCache.set(rater, (sizes = new Map()));
  if (sizes.has(allowanceId)) return sizes.get(allowanceId);
  const size = findAllowanceSize(rater, allowanceId, offers);
  sizes.set(allowanceId, size);
  return size;
}

function findAllowanceSize(rater: Rater, allowanceId: string, offers: readonly OfferDocument[]): string | null | undefined {
  const plan = rater.compiled.plan;
  const all = [...plan.allowances, ...(plan.addOns ?? []).flatMap((a) => a.allowances), ...offers.flatMap((o) => o.allowances)];
  const a = all.find((x) => x.id === allowanceId);
  if (!a) return undefined;
  // An unlimited allowance with a fair-use cap is a bucket of the cap (wallets' grantAllowance grants
  // it so and charges money past it): its thresholds, estimates and re-rates count against the cap.
  if (a.unlimited) return a.fairUseCap ?? null;
  return a.quantity ?? null;
}

/** The charge the wallets ledger applies: a flat unit price, or the rated price spread over the units. */
export function chargeRequestOf(
  chargeId: string,
  lineId: string,
  /** The rated event: its occurredAt is the ISO text already. */
  u: Pick<UsageEvent, 'usageType' | 'occurredAt'>,
  version: SubscriptionVersion,
  result: RatingResult,
  rater: Rater,
  extra: { zone?: string | null; adjustsInvoiceId?: string | null } = {},
): ChargeRequest {
  const flat = result.pricePerUnit !== undefined && result.adjustments.every((a) => dec(a.applied).isZero());
  const pricePerUnit = flat ? result.pricePerUnit! : dec(result.price).div(result.chargedUnits).toDecimalPlaces(10).toString();
  return {
    chargeId,
    billingAccountId: version.billingAccountId,
    lineId,
    paymentMode: version.paymentMode,
    currency: result.currency,
    usageType: u.usageType,
    occurredAt: u.occurredAt,
    units: result.chargedUnits,
    unit: result.unit ?? 'ITEM',
    allowanceIds: result.allowanceId ? [result.allowanceId] : [],
    pricePerUnit,
    // The rated price itself: a tiered price's average per unit is rounded, so units x pricePerUnit
    // misses the rated price by a fraction; wallets takes this (pro rata when allowances cover part,
    // as usage estimates it: ledgerMoneyFor).
    amount: chargeAmountOf(result.price).toFixed(),
    allowOverdraft: version.paymentMode === 'POSTPAID' || Boolean(rater.compiled.plan.balancePolicy?.overdraftAllowed),
    ...(extra.zone ? { zone: extra.zone } : {}),
    ...(extra.adjustsInvoiceId ? { adjustsInvoiceId: extra.adjustsInvoiceId } : {}),
  };
}

/**
 * The tariff zone of a rated event, for invoices to group usage by: `ROAMING_<zone>` when the
 * line was abroad (the plan's roaming zone, e.g. ROAMING_EU, ROAMING_WORLD2), else the
 * destination zone of a call or message (the plan's, e.g. NATIONAL, EU, NORTH_AMERICA), else
 * HOME. Facts the rules read are reused; the plan's zone tables answer the rest.
 */
export function zoneOf(rater: Rater, result: RatingResult, u: Pick<ValidUsage, 'calledNumber' | 'roamingCountry' | 'visitedMcc' | 'usageType' | 'occurredAt' | 'quantity' | 'direction'>): string {
  const tables = rater.compiled.tables;
  const roaming = (result.facts.roamingZone as string | undefined) ?? (u.roamingCountry || u.visitedMcc ? tables.roamingZone(zoneEvent(u) as never) : HOME_ZONE);
  if (roaming !== HOME_ZONE) return `${ROAMING_LABEL_PREFIX}${roaming}`;
  if (!u.calledNumber) return HOME_ZONE;
  const destination = (result.facts.destinationZone as string | undefined) ?? tables.destinationZone(u.calledNumber);
  return destination === NO_DESTINATION ? HOME_ZONE : destination;
}


/** What the plan's roaming table reads of an event (built only when the rules did not give the zone). */
function zoneEvent(u: Pick<ValidUsage, 'calledNumber' | 'roamingCountry' | 'visitedMcc' | 'usageType' | 'quantity' | 'direction'>) {
  return { id: '', lineId: '', usageType: u.usageType, direction: u.direction, quantity: u.quantity, occurredAt: '', ...(u.calledNumber ? { calledNumber: u.calledNumber } : {}), ...(u.roamingCountry ? { roamingCountry: u.roamingCountry } : {}), ...(u.visitedMcc ? { visitedMcc: u.visitedMcc } : {}) };
}

/** The rules' lineStatus fact: a suspended or barred line as such, any other status rated as active. */
function lineStatusFact(status: string): 'ACTIVE' | 'SUSPENDED' | 'BARRED' {
  return status === 'SUSPENDED' || status === 'BARRED' ? status : 'ACTIVE';
}
