// The bill run's inputs, checked before anything is asked of invoicing. Pure: imported by the
// workflow (no Node built-ins).

/** Invoicing's largest batch (services/invoicing/src/domain/bill-run-batch.ts, MAX_BILL_RUN_BATCH): a larger one is refused there. */
export const MAX_BILL_RUN_BATCH_SIZE = 10_000;
/** The most batch children a run keeps in flight (each one a transaction of up to a batch of accounts in invoicing). */
export const MAX_BILL_RUN_CONCURRENCY = 100;

const CYCLE_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A calendar date YYYY-MM-DD that exists (2026-02-30 does not). */
export function isCycleDate(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const m = CYCLE_DATE.exec(value);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return mo >= 1 && mo <= 12 && d >= 1 && d <= new Date(Date.UTC(y, mo, 0)).getUTCDate();
}

const show = (v: unknown): string => (v === undefined ? 'nothing' : JSON.stringify(v));
const wholeIn = (v: unknown, min: number, max: number): boolean => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/** What is wrong with a `billRunWorkflow` input, one sentence per field ([] when it is fine). */
export function billRunInputProblems(input: unknown): string[] {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return [`input is required: { cycleDate: "YYYY-MM-DD", batchSize?, concurrency? } (got ${show(input)})`];
  const i = input as Record<string, unknown>;
  const problems: string[] = [];
  if (!isCycleDate(i.cycleDate)) problems.push(`cycleDate must be a calendar date YYYY-MM-DD (got ${show(i.cycleDate)})`);
  if (i.batchSize !== undefined && !wholeIn(i.batchSize, 1, MAX_BILL_RUN_BATCH_SIZE)) problems.push(`batchSize must be a whole number 1–${MAX_BILL_RUN_BATCH_SIZE} (got ${show(i.batchSize)})`);
  if (i.concurrency !== undefined && !wholeIn(i.concurrency, 1, MAX_BILL_RUN_CONCURRENCY)) problems.push(`concurrency must be a whole number 1–${MAX_BILL_RUN_CONCURRENCY} (got ${show(i.concurrency)})`);
  return problems;
}

/** What is wrong with a `billRunBatchWorkflow` input ([] when it is fine). */
export function billRunBatchInputProblems(input: unknown): string[] {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return [`input is required: { billRunId, batchNo } (got ${show(input)})`];
  const i = input as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof i.billRunId !== 'string' || i.billRunId.trim() === '') problems.push(`billRunId is required (got ${show(i.billRunId)})`);
  if (i.batchNo !== null && !wholeIn(i.batchNo, 0, Number.MAX_SAFE_INTEGER)) problems.push(`batchNo must be a whole number from 0, or null for any batch due (got ${show(i.batchNo)})`);
  return problems;
}
