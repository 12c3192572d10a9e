/**
 * invoicing's customerBillCreated as usage applies it (application/mark-billed.ts). What it names
 * is stored (billed_period) and compared with records' times, so an event PostgreSQL would refuse
 * is refused here, with the field at fault: a NUL character (PostgreSQL stores none in text), an
 * id longer than its column (invoice ids 64, as usage_record.adjusts_invoice_id; accounts 40), a
 * date PostgreSQL cannot store or that no invoice has (JS dates reach year 275760; usage keeps no
 * time before 1970, as for records). Such an event used to fail in SQL, and its batch was retried
 * for ever, holding back every bill after it.
 */

export interface BillIssued {
  invoiceId: string;
  billingAccountId: string;
  periodStart: Date;
  periodEnd: Date;
  /** When the invoice was issued (the event's time). */
  issuedAt: Date;
}

export interface BillIssuedProblem {
  field: string;
  message: string;
}

export const BILL_ID_MAX = { invoiceId: 64, billingAccountId: 40 } as const;
/** The years a bill's dates may fall in: usage stores nothing before 1970; 9999 is the last year of a four-digit ISO date. */
const EARLIEST_YEAR = 1970;
const LATEST_YEAR = 9999;

function idProblem(field: keyof typeof BILL_ID_MAX, value: unknown): BillIssuedProblem | undefined {
  if (typeof value !== 'string' || value === '') return { field, message: `${field} is missing or not a text` };
  if (value.includes('\u0000')) return { field, message: `${field} contains a NUL character` };
  if (value.length > BILL_ID_MAX[field]) return { field, message: `${field} is longer than ${BILL_ID_MAX[field]} characters` };
  return undefined;
}

function dateOf(field: string, value: unknown): Date | BillIssuedProblem {
  if (typeof value !== 'string' || value === '') return { field, message: `${field} is missing or not a text` };
  const shown = value.replaceAll('\u0000', '\uFFFD').slice(0, 40);
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return { field, message: `${field} "${shown}" is not a date-time` };
  const year = date.getUTCFullYear();
  if (year < EARLIEST_YEAR || year > LATEST_YEAR) return { field, message: `${field} "${shown}" is outside the years ${EARLIEST_YEAR}..${LATEST_YEAR}` };
  return date;
}

/**
 * The bill; or `instant` for a bill of an instant (periodStart = periodEnd: a business budget's
 * replenishment invoice, which bills no usage period: nothing to mark, nothing wrong); or the first
 * field usage cannot take (the same answer every time: the event is dropped, not retried).
 */
export function parseBillIssued(data: unknown, time: unknown): { ok: true; bill: BillIssued } | { ok: 'instant'; invoiceId: string } | { ok: false; problem: BillIssuedProblem } {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return { ok: false, problem: { field: 'data', message: 'the event has no data' } };
  const d = data as Record<string, unknown>;
  for (const field of ['invoiceId', 'billingAccountId'] as const) {
    const problem = idProblem(field, d[field]);
    if (problem) return { ok: false, problem };
  }
  const periodStart = dateOf('periodStart', d.periodStart);
  if (!(periodStart instanceof Date)) return { ok: false, problem: periodStart };
  const periodEnd = dateOf('periodEnd', d.periodEnd);
  if (!(periodEnd instanceof Date)) return { ok: false, problem: periodEnd };
  const issuedAt = dateOf('time', time);
  if (!(issuedAt instanceof Date)) return { ok: false, problem: issuedAt };
  if (periodEnd.getTime() === periodStart.getTime()) return { ok: 'instant', invoiceId: d.invoiceId as string };
  if (!(periodEnd > periodStart)) return { ok: false, problem: { field: 'periodEnd', message: 'periodEnd is not after periodStart' } };
  return { ok: true, bill: { invoiceId: d.invoiceId as string, billingAccountId: d.billingAccountId as string, periodStart, periodEnd, issuedAt } };
}
