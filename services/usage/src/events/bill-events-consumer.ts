/**
 * invoicing → usage: customerBillCreated marks the invoice's records BILLED (application/mark-billed.ts).
 *
 * A bill usage cannot apply must not hold back the bills after it (their records would never be
 * BILLED, late events in their periods never sent as adjustments): consumeBatches retries a failed
 * batch for ever. So each bill is applied on its own, and
 * - one refused as it is (not a CloudEvent; a field PostgreSQL would refuse or no invoice has, see
 *   domain/bill-issued.ts) is logged, counted (`onDropped`) and acknowledged;
 * - one that fails while the database answers is the bill's own problem: a data error (SQLSTATE
 *   class 22) at once, anything else after BILL_ATTEMPTS attempts, it is parked - terminated in
 *   JetStream, logged as an error, counted `unstorable` - as the subscribers and charges consumers
 *   drop what they cannot store. Attempts are failures while the database answered, counted in
 *   this process per message: not JetStream's delivery count, which a bill that waited through an
 *   outage (redelivered after each ack wait to instances restarted meanwhile) has already run up,
 *   so its first ordinary error parked it. A restart starts the count again (at most BILL_ATTEMPTS
 *   more attempts per restart for a bill that keeps failing);
 * - one that fails while the database does not answer, on a conflict worth retrying (class 40) or
 *   a statement cancelled (57014: a statement timeout on a large account, an operator's cancel),
 *   fails the batch, which is retried.
 * A batch's bills are acknowledged once the ingest batches rated before usage knew of them are
 * written, and applied again first if those stored records (application/mark-billed.ts,
 * recordsStoredMeanwhile): a record committed while a bill was applied is not left unmarked.
 */
import type { JsMsg } from '@nats-io/jetstream';
import { EVENTS, parseCloudEvent } from '@ledgerline/contracts';
import type { Logger, Messaging } from '@ledgerline/platform';
import { markPeriodBilled, recordsStoredMeanwhile } from '../application/mark-billed';
import type { UsagePipeline } from '../application/usage-pipeline';
import { parseBillIssued, type BillIssued } from '../domain/bill-issued';
import type { Sql } from '../persistence/sql';
import { consumeBatches } from './jetstream';

/** Why a bill event was acknowledged (or terminated) without effect. */
export type DroppedBillReason = 'not_a_cloud_event' | 'invalid' | 'unstorable';
export type DropBill = (reason: DroppedBillReason, details: { id?: string; field?: string; problem?: string; err?: unknown; seq?: number }) => void;

/** How many times a bill that fails while the database answers is tried before it is parked. */
export const BILL_ATTEMPTS = 3;

const sqlState = (error: unknown): string => (typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : '');
/** The data itself refused (a value too long, out of range, an invalid byte): the same every time. */
const isDataError = (error: unknown): boolean => sqlState(error).startsWith('22');
/** Serialization failures and deadlocks, statement timeouts: another attempt may well succeed. */
const isRetryable = (error: unknown): boolean => sqlState(error).startsWith('40') || sqlState(error) === '57014';

async function databaseAnswers(sql: Sql): Promise<boolean> {
  try {
    await sql.query('select 1');
    return true;
  } catch {
    return false;
  }
}

/**
 * Applies one bill and returns it; a bill refused as it is goes to `drop` (undefined). Throws what
 * the database refused. Records still being written may have been missed: see recordsStoredMeanwhile.
 */
export async function applyBillEvent(sql: Sql, pipeline: UsagePipeline, payload: string, logger: Logger, drop: DropBill): Promise<BillIssued | undefined> {
  let event;
  try {
    event = parseCloudEvent(payload);
  } catch (error) {
    drop('not_a_cloud_event', { err: error });
    return undefined;
  }
  const parsed = parseBillIssued(event.data, event.time);
  if (parsed.ok === 'instant') {
    logger.debug({ id: event.id, invoiceId: parsed.invoiceId }, 'a bill of an instant (a replenishment) bills no usage period');
    return undefined;
  }
  if (!parsed.ok) {
    drop('invalid', { id: event.id, field: parsed.problem.field, problem: parsed.problem.message });
    return undefined;
  }
  const bill = parsed.bill;
  void pipeline.forgetBilledPeriods(bill.billingAccountId);
  try {
    const billed = await markPeriodBilled(sql, bill);
    logger.debug({ invoiceId: bill.invoiceId, billed }, 'usage records billed');
    return bill;
  } finally {
    void pipeline.forgetBilledPeriods(bill.billingAccountId);
  }
}

export function startBillEventsConsumer(messaging: Messaging, sql: Sql, pipeline: UsagePipeline, o: { durable: string; deliverNew: boolean; logger: Logger; onDropped?: (reason: DroppedBillReason, details: { field?: string }) => void }) {
  const drop: DropBill = (reason, details) => {
    o.logger.error({ reason, ...details }, 'customerBillCreated refused; usage records of that invoice stay as they are');
    o.onDropped?.(reason, { field: details.field });
  };
  /** Failed attempts of a message (by stream sequence) while the database answered. */
  const failures = new Map<number, number>();
  /** Messages acknowledged or terminated: a batch retried after a later message failed skips them. */
  const done = new WeakSet<JsMsg>();
  /** A bill that failed: thrown again (the batch is retried), or parked (terminated). */
  const failed = async (m: JsMsg, error: unknown): Promise<void> => {
    if (isRetryable(error) || !(await databaseAnswers(sql))) throw error;
    const attempts = (failures.get(m.seq) ?? 0) + 1;
    if (!isDataError(error) && attempts < BILL_ATTEMPTS) {
      failures.set(m.seq, attempts);
      throw error;
    }
    failures.delete(m.seq);
    drop('unstorable', { err: error, seq: m.seq, problem: `refused by the database after ${attempts} attempt(s); parked (terminated)` });
    // No reason text: nats-server before 2.10 does not take `+TERM <reason>` and would redeliver it.
    m.term();
    done.add(m);
  };
  const finished = (m: JsMsg) => {
    failures.delete(m.seq);
    m.ack();
    done.add(m);
  };
  return consumeBatches(messaging, { durable: o.durable, filter: EVENTS.customerBillCreated.subject, max: 200, deliverNew: o.deliverNew, logger: o.logger }, async (batch) => {
    // Bills applied and not yet acknowledged: applied again before their ack if records rated
    // without knowing of them were stored meanwhile (recordsStoredMeanwhile; one wait per batch).
    const applied: { m: JsMsg; bill: BillIssued }[] = [];
    const writesBefore = pipeline.writesCommitted;
    for (const m of batch) {
      if (done.has(m)) continue;
      try {
        const bill = await applyBillEvent(sql, pipeline, m.string(), o.logger, (reason, details) => drop(reason, { ...details, seq: m.seq }));
        if (bill) applied.push({ m, bill });
        else finished(m);
      } catch (error) {
        await failed(m, error);
      }
    }
    const again = await recordsStoredMeanwhile(pipeline, applied.map((a) => a.bill), writesBefore);
    for (const { m, bill } of applied) {
      try {
        if (again) await markPeriodBilled(sql, bill);
      } catch (error) {
        await failed(m, error);
        continue;
      }
      finished(m);
    }
  });
}
