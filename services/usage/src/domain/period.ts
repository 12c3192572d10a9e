import { badInput } from '@ledgerline/contracts';

/** A calendar-month period `YYYY-MM` as a half-open UTC interval [start, end). */
export function monthPeriod(period: string | null | undefined, now: Date): { period: string; start: Date; end: Date } {
  const text = period ?? now.toISOString().slice(0, 7);
  const match = /^(\d{4})-(\d{2})$/.exec(text);
  if (!match || Number(match[2]) < 1 || Number(match[2]) > 12) throw badInput('period', `"${text}" is not a period in the form YYYY-MM`, 'PERIOD_INVALID');
  const year = Number(match[1]);
  const month = Number(match[2]) - 1;
  return { period: text, start: new Date(Date.UTC(year, month, 1)), end: new Date(Date.UTC(year, month + 1, 1)) };
}
