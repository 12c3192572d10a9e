/**
 * Messages of an overdue invoice's dunning (invoicing's customerbill.dunningnotice, recorded by the
 * dunning workflow at each step): a reminder (DUNNING_REMINDER), the last one before the lines are
 * barred (DUNNING_FINAL_NOTICE), the bar (DUNNING_BARRED) and the lines back on after the payment
 * (DUNNING_RESTORED). Each names the invoice, what it still owes and its due date, and a reminder
 * says what comes next if it stays unpaid and on which day (a late fee, the bar). Days are the
 * account's local days, as its invoices print them. Pure: notifications.ts routes the events here
 * and composes the texts with the account's facts (its time zone).
 */
import { formatAmount, isCurrencyCode } from '@ledgerline/contracts';
import { dayOf, instant, isDecimal, str } from './event-fields';

export const DUNNING_TEMPLATES = ['DUNNING_REMINDER', 'DUNNING_FINAL_NOTICE', 'DUNNING_BARRED', 'DUNNING_RESTORED'] as const;
const TEMPLATE_OF: Record<string, (typeof DUNNING_TEMPLATES)[number]> = {
  REMINDER: 'DUNNING_REMINDER',
  FINAL_NOTICE: 'DUNNING_FINAL_NOTICE',
  BARRED: 'DUNNING_BARRED',
  RESTORED: 'DUNNING_RESTORED',
};

type Data = Record<string, unknown>;
type Params = Record<string, string>;


/** The template and params of a dunning notice event, or why it cannot be read. */
export function dunningTrigger(d: Data): { template: string; params: Params } | { invalid: string } {
  const template = TEMPLATE_OF[str(d.notice) ?? ''];
  if (!template) return { invalid: `data.notice ${JSON.stringify(d.notice ?? null)} is not REMINDER, FINAL_NOTICE, BARRED or RESTORED` };
  const number = str(d.number);
  if (!number) return { invalid: 'data.number is missing' };
  const currency = str(d.currency);
  if (!currency || !isCurrencyCode(currency)) return { invalid: `data.currency ${JSON.stringify(d.currency ?? null)} is not a currency we bill in` };
  const amountDue = str(d.amountDue);
  if (!isDecimal(amountDue)) return { invalid: `data.amountDue ${JSON.stringify(d.amountDue ?? null)} is not a decimal` };
  const fee = (d.lateFee ?? null) as Data | null;
  const feeAmount = fee ? str(fee.amount) : null;
  const feeAt = fee ? instant(fee.at) : '';
  const resumed = str(d.linesResumed);
  return {
    template,
    params: {
      invoiceNumber: number,
      paymentReference: str(d.paymentReference) ?? number,
      currency,
      amountDue,
      dueDate: instant(d.dueDate),
      ...(isDecimal(feeAmount) && feeAt ? { lateFee: feeAmount, lateFeeAt: feeAt } : {}),
      ...(instant(d.barAt) ? { barAt: instant(d.barAt) } : {}),
      ...(resumed && /^\d+$/.test(resumed) ? { linesResumed: resumed } : {}),
    },
  };
}

/** An ISO instant as a local day of the account (`p.timezone`; UTC when it has none we can read). */
const money = (v: string, p: Params): string => formatAmount(v, p.currency!);

/** "Your bill INV-… was due on 2026-10-22 and 35.70 EUR of it is still unpaid." */
function overdue(p: Params): string {
  return `Your bill ${p.invoiceNumber} ${p.dueDate ? `was due on ${dayOf(p.dueDate, p)}` : 'is overdue'} and ${money(p.amountDue!, p)} of it is still unpaid.`;
}

/** What happens if it stays unpaid, and when (nothing when no step is to come). */
function next(p: Params): string {
  const fee = p.lateFee ? `a late fee of ${money(p.lateFee, p)} will be added on ${dayOf(p.lateFeeAt!, p)}` : '';
  const bar = p.barAt ? `your lines will be barred on ${dayOf(p.barAt, p)}` : '';
  const steps = [fee, bar].filter(Boolean).join(' and ');
  return steps ? ` Unless it is paid, ${steps}.` : '';
}

function pay(p: Params): string {
  return `Pay it in the app, or by bank transfer with the reference ${p.paymentReference}.`;
}

/** Subject and text of a dunning template; null when the params are not a dunning notice's (a plan rule naming the template). */
export function composeDunningMessage(template: string, p: Params): { subject: string; content: string } | null {
  if (!p.invoiceNumber || !isCurrencyCode(p.currency) || !isDecimal(p.amountDue ?? null)) return null;
  switch (template) {
    case 'DUNNING_REMINDER':
      return { subject: `Reminder: your bill ${p.invoiceNumber} is overdue`, content: `${overdue(p)}${next(p)} ${pay(p)}` };
    case 'DUNNING_FINAL_NOTICE':
      return { subject: `Final notice: your bill ${p.invoiceNumber} is overdue`, content: `${overdue(p)}${next(p)} ${pay(p)}` };
    case 'DUNNING_BARRED': {
      const due = p.dueDate ? `, due on ${dayOf(p.dueDate, p)},` : '';
      return { subject: 'Your lines are barred', content: `Your lines are barred because ${money(p.amountDue!, p)} of your bill ${p.invoiceNumber}${due} is still unpaid. ${pay(p)} They are switched back on once it is paid.` };
    }
    case 'DUNNING_RESTORED': {
      // Lines another unpaid bill still holds stay barred (that bill's own notices said so): only lines switched back on are announced.
      const back = p.linesResumed !== undefined && Number(p.linesResumed) > 0;
      return {
        subject: back ? 'Your lines are back on' : `Your bill ${p.invoiceNumber} is paid`,
        content: `We received the payment of your bill ${p.invoiceNumber}: nothing more is due on it.${back ? ' Your lines are switched back on.' : ''}`,
      };
    }
    default:
      return null;
  }
}
