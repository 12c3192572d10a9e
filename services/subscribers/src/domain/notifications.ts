/**
 * What to tell a customer, and on which channels, when another service reports something they
 * should know: a usage threshold (from a plan's `notify` rule), a low or used-up balance, an
 * allowance about to expire, a prepaid bundle its balance could not pay for, a dispute's progress, a
 * bill issued, money received, credited or sent back, a credit note on an invoice (money-notifications.ts). Pure: the consumer feeds it events and the customer's preferences.
 */
import { dec, formatAmount, isCurrencyCode, type RoundingMode } from '@ledgerline/contracts';
import { composeMoneyMessage, creditNoteOnInvoice, moneyTrigger, type MoneyNotifyingKind } from './money-notifications';
import { composeDunningMessage, dunningTrigger } from './dunning-notifications';
import { dayOf, instant, isDecimal, str } from './event-fields';

export type Channel = 'SMS' | 'EMAIL' | 'PUSH' | 'WEBHOOK';

export interface NotificationTrigger {
  eventType: string;
  eventId: string;
  billingAccountId: string;
  lineId: string | null;
  template: string;
  /** The channel a plan rule asked for, if any. */
  preferredChannel: Channel | null;
  params: Record<string, string>;
}

export interface Preferences {
  email: boolean;
  sms: boolean;
  push: boolean;
  webhookUrl: string | null;
}

export interface Contacts {
  customerId: string;
  email: string | null;
  phone: string | null;
  /** The line's own number, where the message is about a line. */
  msisdn: string | null;
}

interface EventLike {
  id: string;
  type: string;
  /** The CloudEvent's time: when it happened, for messages whose data does not say. */
  time?: string;
  data?: unknown;
}

type Data = Record<string, unknown>;
/**
 * An event's money as the customer reads it: in the currency's minor unit ("4.995 JOD", "480 JPY",
 * "12.30 EUR"), exact (contracts' formatAmount, never a JS number). Balances are floored: the
 * balance shown is never more than the one held, so a balance of 4.996 EUR that fell below 5 EUR
 * reads "4.99 EUR", not "5.00 EUR, below 5.00 EUR". A currency we do not bill in (an event we
 * should not get) is printed as sent rather than failing the notification.
 */
const money = (v: unknown, mode: RoundingMode = 'HALF_EVEN'): string => {
  const m = v as { amount?: string; currency?: string } | undefined;
  if (!m?.amount) return '';
  return isCurrencyCode(m.currency) ? formatAmount(m.amount, m.currency, mode) : `${dec(m.amount).toFixed()} ${m.currency ?? ''}`.trim();
};
const balance = (v: unknown): string => money(v, 'FLOOR');

/** An instant as messages print it: to the minute, in UTC ("2026-11-20 12:00 UTC"). */
export const utcMinute = (at: Date | string): string => `${new Date(at).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/** Builds the trigger for an event kind we notify about, or null (with the reason) when it cannot. */
export type NotifyingKind = 'usageNotification' | 'balanceLow' | 'balanceDepleted' | 'bucketExpiring' | 'bundleFeeDue' | 'chargeDue' | 'disputeOpened' | 'disputeResolved' | 'billIssued' | MoneyNotifyingKind | 'dunningNotice';

/**
 * What the message about an event learns from the account it is for, beside the event's own
 * params: its time zone (dates are printed as the account's local days, as its invoices print
 * them) and whether autopay is on (a bill is then charged to the card on file on its due date).
 */
export function accountParams(account: { timezone: string; autopayToken?: string | null }): Record<string, string> {
  return { timezone: account.timezone, ...(account.autopayToken ? { autopay: 'yes' } : {}) };
}


/** The last day of a period whose end is exclusive (the next period's first local midnight). */
function lastDayOf(isoEnd: string, p: Record<string, string>): string {
  return dayOf(new Date(new Date(isoEnd).getTime() - 1).toISOString(), p);
}


/** invoicing's customerBillCreated: the params of the BILL_ISSUED message (amounts and instants as sent; composeMessage prints them). */
function billParams(d: Data): { params: Record<string, string> } | { invalid: string } {
  const number = str(d.number);
  const total = str(d.total);
  const currency = str(d.currency);
  if (!number) return { invalid: 'data.number is missing' };
  if (!total || !isDecimal(total)) return { invalid: `data.total ${JSON.stringify(d.total ?? null)} is not a decimal` };
  if (!currency || !isCurrencyCode(currency)) return { invalid: `data.currency ${JSON.stringify(d.currency ?? null)} is not a currency we bill in` };
  const instant = (v: unknown) => {
    const t = str(v);
    return t && !Number.isNaN(new Date(t).getTime()) ? t : '';
  };
  return {
    params: {
      invoiceNumber: number,
      total,
      currency,
      periodStart: instant(d.periodStart),
      periodEnd: instant(d.periodEnd),
      dueDate: instant(d.dueDate),
      // Invoicing's payment reference is the invoice's number (events from before 2027-01-28 do not name it).
      paymentReference: str(d.paymentReference) ?? number,
      // Account credit that paid it as it was issued, and what is left to pay (events from before 2027-01-29 do not say).
      ...(str(d.creditApplied) && isDecimal(str(d.creditApplied)!) && dec(str(d.creditApplied)!).gt(0) && str(d.amountDue) && isDecimal(str(d.amountDue)!)
        ? { creditApplied: str(d.creditApplied)!, amountDue: str(d.amountDue)! }
        : {}),
      ...closureCreditParams(d),
    },
  };
}

/**
 * The closure credit note invoicing issued with the bill (`closureCredit`, events since 2026-11-29): the bill's
 * message tells it and what is due after it (the note's own creditnote.created is not told). None when unreadable:
 * the bill is then told as before.
 */
function closureCreditParams(d: Data): Record<string, string> {
  const n = (d.closureCredit ?? null) as Data | null;
  const amount = n ? str(n.amount) : null;
  const due = str(d.amountDue);
  if (!n || !str(n.number) || !isDecimal(amount) || !dec(amount!).gt(0) || !isDecimal(due)) return {};
  const credit = str(d.creditApplied);
  return { closureNote: str(n.number)!, closureAmount: amount!, closedAt: instant(n.accountClosedAt), creditApplied: isDecimal(credit) ? credit! : '0', amountDue: due! };
}

/**
 * usage's SPEND_ALERT notice (a spend alert the customer set reached its amount): the amounts as the customer reads
 * them (what was spent rounded down: never more than it was), the bill period's instants (printed as local days),
 * and the line's number for a line's alert. A field missing leaves its param out (composeMessage falls back to the
 * plain text).
 */
function spendAlertParams(d: Data): Record<string, string> {
  const currency = str(d.currency);
  const known = currency && isCurrencyCode(currency);
  const alert = str(d.alertAmount);
  const spent = str(d.spent);
  return {
    period: str(d.period) ?? '',
    ...(known && isDecimal(alert) ? { alert: formatAmount(alert, currency) } : {}),
    ...(known && isDecimal(spent) ? { spent: formatAmount(spent, currency, 'FLOOR') } : {}),
    periodStart: instant(d.periodStart),
    periodEnd: instant(d.periodEnd),
    ...(str(d.msisdn) ? { msisdn: str(d.msisdn)! } : {}),
  };
}

/** "Your usage charges (on +49…) for the bill period from 2026-03-01 to 2026-03-31 are 53.90 EUR so far, reaching the 50.00 EUR alert you set." */
function spendAlertText(p: Record<string, string>): string {
  const period = p.periodStart && p.periodEnd ? ` for the bill period from ${dayOf(p.periodStart, p)} to ${lastDayOf(p.periodEnd, p)}` : p.period ? ` for the bill period from ${p.period}` : '';
  return `Your usage charges${p.msisdn ? ` on ${p.msisdn}` : ''}${period} are ${p.spent} so far, reaching the ${p.alert} alert you set. They are charged on top of your plan's fee: calls, messages and data beyond your allowances, roaming and premium content. You can change or clear the alert in the app.`;
}

/** A dispute's message about a closed dispute, by the way it closed (ACCEPTED for less than the amount: partly upheld). */
function disputeResolvedTemplate(d: Data): string | null {
  switch (str(d.status)) {
    case 'ACCEPTED':
      return str(d.creditedAmount) && str(d.amount) && dec(str(d.creditedAmount)!).lt(str(d.amount)!) ? 'DISPUTE_PARTLY_ACCEPTED' : 'DISPUTE_ACCEPTED';
    case 'REJECTED':
      return 'DISPUTE_REJECTED';
    case 'WITHDRAWN':
      return 'DISPUTE_WITHDRAWN';
    default:
      return null;
  }
}

/**
 * An accepted dispute's own credit note (dispute.resolved `creditNote`, events since 2027-01-31): what it did, for
 * the dispute's message, which is the customer's only message of it (creditnote.created names the dispute and is
 * not told apart). Raw decimals and the event's instant (creditNoteOnInvoice prints them); none when unreadable.
 */
function disputeCreditNoteParams(d: Data, eventTime: string | undefined): Record<string, string> {
  const n = (d.creditNote ?? null) as Data | null;
  const currency = str(d.currency);
  const noted = str(d.creditedAmount) ?? str(d.amount);
  if (!n || str(d.status) !== 'ACCEPTED' || !str(n.number) || !isCurrencyCode(currency) || !isDecimal(noted) || !isDecimal(str(n.creditAmount)) || !isDecimal(str(n.amountDue))) return {};
  return { creditNote: str(n.number)!, noteAmount: noted, noteCredit: str(n.creditAmount)!, amountDue: str(n.amountDue)!, dueDate: instant(n.dueDate), currency, at: instant(eventTime) };
}

/** What an upheld dispute's credit note did to the invoice (the params of disputeCreditNoteParams). */
function disputeCreditNoteEffect(p: Record<string, string>): string {
  return creditNoteOnInvoice({ ...p, amount: p.noteAmount!, credit: p.noteCredit! });
}

/** A dispute event's amounts (a decimal string beside its currency) as the customer reads them. */
function disputeParams(d: Data, eventTime?: string): Record<string, string> {
  const currency = str(d.currency) ?? undefined;
  const amount = str(d.amount);
  const credited = str(d.creditedAmount);
  return {
    ...disputeCreditNoteParams(d, eventTime),
    amount: money({ amount, currency }),
    invoiceNumber: str(d.invoiceNumber) ?? '',
    ...(credited ? { credited: money({ amount: credited, currency }) } : {}),
    ...(credited && amount && dec(credited).lt(amount) ? { rest: money({ amount: dec(amount).minus(credited).toFixed(), currency }) } : {}),
    note: str(d.decisionNote)?.trim() ?? '',
    // The invoice was paid when the dispute was decided: a credit is account credit, nothing is due again.
    ...(str(d.invoiceState) === 'SETTLED' ? { paid: 'yes' } : {}),
    ...(creditedOnNextInvoice(d) ? { nextInvoice: 'yes' } : {}),
  };
}

/**
 * An accepted dispute closed by a billed re-rate correction of its usage record (invoicing's
 * `decidedBy` `rerate:<chargeId>`, no credit note): the correction is a line of the account's next
 * invoice, not a credit on the disputed one, whose held amount is due again (or stays paid). Every
 * other acceptance is a credit note on the disputed invoice.
 */
function creditedOnNextInvoice(d: Data): boolean {
  return str(d.status) === 'ACCEPTED' && !str(d.creditNoteId) && (str(d.decidedBy) ?? '').startsWith('rerate:');
}

/** Where an accepted dispute's credit went and what the customer still owes on that invoice. */
function creditGoes(p: Record<string, string>, credited: string): string {
  if (p.nextInvoice) {
    return p.paid
      ? `${credited} is credited on your next invoice; you had already paid that invoice, so nothing more is due on it`
      : `${credited} is credited on your next invoice, and the amount you disputed is due again on that invoice`;
  }
  if (p.paid) return `${credited} is credited to your account, as you had already paid that invoice`;
  return p.rest ? `${credited} is credited to that invoice and the other ${p.rest} is due again` : `${credited} is credited to that invoice`;
}

export function triggerFromEvent(kind: NotifyingKind, event: EventLike): { trigger: NotificationTrigger } | { invalid: string; ignored?: true } {
  const d = (event.data ?? {}) as Data;
  const billingAccountId = str(d.billingAccountId);
  if (!billingAccountId) return { invalid: 'data.billingAccountId is missing' };
  const base = { eventType: event.type, eventId: event.id, billingAccountId };
  switch (kind) {
    case 'usageNotification': {
      const template = str(d.template);
      if (!template) return { invalid: 'data.template is missing' };
      const channel = str(d.channel)?.toUpperCase() ?? null;
      const threshold = str(d.threshold);
      // A spend alert the customer set in usage (setSpendAlert): its amounts and bill period (spendAlertParams).
      if (template === 'SPEND_ALERT') return { trigger: { ...base, lineId: str(d.lineId), template, preferredChannel: null, params: spendAlertParams(d) } };
      return {
        trigger: {
          ...base,
          lineId: str(d.lineId),
          template,
          preferredChannel: channel && ['SMS', 'EMAIL', 'PUSH'].includes(channel) ? (channel as Channel) : null,
          params: {
            period: str(d.period) ?? '',
            // The allowance period's end (usage sends it): the day the allowance is whole again.
            renews: str(d.periodEnd)?.slice(0, 10) ?? '',
            allowance: str(d.allowanceId) ?? 'usage',
            percent: threshold ? dec(threshold).times(100).toFixed(0) : '',
          },
        },
      };
    }
    case 'balanceLow':
      return { trigger: { ...base, lineId: null, template: 'LOW_BALANCE', preferredChannel: null, params: { balance: balance(d.balance), threshold: money(d.threshold) } } };
    case 'balanceDepleted':
      return { trigger: { ...base, lineId: null, template: 'BALANCE_DEPLETED', preferredChannel: null, params: { balance: balance(d.balance) } } };
    case 'bundleFeeDue':
      return { trigger: { ...base, lineId: str(d.lineId), template: 'BUNDLE_FEE_DUE', preferredChannel: null, params: { fee: money(d.fee), balance: balance(d.balance) } } };
    case 'chargeDue':
      return { trigger: { ...base, lineId: str(d.lineId), template: 'CHARGE_DUE', preferredChannel: null, params: { description: str(d.description) ?? 'A charge', amount: money(d.amount), balance: balance(d.balance) } } };
    case 'disputeOpened':
      if (!str(d.amount)) return { invalid: 'data.amount is missing' };
      return { trigger: { ...base, lineId: null, template: 'DISPUTE_RECEIVED', preferredChannel: null, params: disputeParams(d) } };
    case 'disputeResolved': {
      const template = disputeResolvedTemplate(d);
      if (!template) return { invalid: `data.status ${JSON.stringify(d.status ?? null)} is not ACCEPTED, REJECTED or WITHDRAWN` };
      if (!str(d.amount)) return { invalid: 'data.amount is missing' };
      return { trigger: { ...base, lineId: null, template, preferredChannel: null, params: disputeParams(d, event.time) } };
    }
    case 'billIssued': {
      const bill = billParams(d);
      if ('invalid' in bill) return bill;
      return { trigger: { ...base, lineId: null, template: 'BILL_ISSUED', preferredChannel: null, params: bill.params } };
    }
    // Payments received, top-ups credited, refunds and payouts sent (money-notifications.ts).
    case 'paymentReceived':
    case 'topupConfirmed':
    case 'refundSent':
    case 'payoutSent':
    case 'creditNoteIssued':
    case 'rechargeRefundFailed':
    case 'rechargeResolved': {
      const m = moneyTrigger(kind, d, event.time);
      if (!('template' in m)) return m;
      return { trigger: { ...base, lineId: null, template: m.template, preferredChannel: null, params: m.params } };
    }
    // An overdue invoice's dunning: reminders, the final notice, the bar, the lines back on (dunning-notifications.ts).
    case 'dunningNotice': {
      const m = dunningTrigger(d);
      if (!('template' in m)) return m;
      return { trigger: { ...base, lineId: null, template: m.template, preferredChannel: null, params: m.params } };
    }
    case 'bucketExpiring':
      return {
        trigger: {
          ...base,
          lineId: null,
          template: 'ALLOWANCE_EXPIRING',
          preferredChannel: null,
          params: { allowance: str(d.allowanceId) ?? 'allowance', remaining: `${str(d.remaining) ?? ''} ${str(d.unit) ?? ''}`.trim(), validTo: str(d.validTo)?.slice(0, 10) ?? '' },
        },
      };
  }
}

/** "Your dispute of 12.00 EUR on invoice INV-…" (an event without the invoice's number leaves it out). */
function yourDispute(p: Record<string, string>): string {
  return `Your dispute of ${p.amount}${p.invoiceNumber ? ` on invoice ${p.invoiceNumber}` : ''}`;
}

/** What a rejected or withdrawn dispute leaves the customer to pay. */
function paidOrDue(p: Record<string, string>): string {
  return p.paid ? 'You had already paid that invoice: nothing more is due.' : 'The amount is due again.';
}

/** A decision note as a sentence of its own (nothing when there is none). */
function sentence(note: string | undefined): string {
  if (!note) return '';
  return ` ${note}${/[.!?]$/.test(note) ? '' : '.'}`;
}

function renews(p: Record<string, string>): string {
  return p.renews ? ` It renews on ${p.renews}.` : '';
}

/**
 * "Your bill INV-… for 2026-09-01 to 2026-09-30 is 35.70 EUR, due on 2026-10-22." and how it gets paid:
 * by the card on file on that day (autopay), else in the app or by a bank transfer naming the
 * reference. A bill with nothing to pay (SETTLED at issue) says so, and a negative one is a credit the
 * account keeps (invoicing pays the account's next bills with it). Days are the account's local days.
 */
function billIssuedText(p: Record<string, string>): string {
  const period = p.periodStart && p.periodEnd ? ` for ${dayOf(p.periodStart, p)} to ${lastDayOf(p.periodEnd, p)}` : '';
  const bill = `Your bill ${p.invoiceNumber}${period}`;
  const total = dec(p.total!);
  if (total.isZero()) return `${bill} is ${formatAmount('0', p.currency!)}: there is nothing to pay.`;
  if (total.isNegative()) return `${bill} is a credit of ${formatAmount(total.negated(), p.currency!)}: it stays on your account and pays your next bills.`;
  const due = p.dueDate ? `, due on ${dayOf(p.dueDate, p)}` : '';
  const pay = (what: string) =>
    p.autopay
      ? ` We will charge ${what} to your card on file on ${p.dueDate ? 'that day' : 'its due date'}.`
      : ` Pay it in the app${p.paymentReference ? `, or by bank transfer with the reference ${p.paymentReference}` : ''}.`;
  // Credited for the days after the account's closure as it was issued (and maybe paid by account credit): what the
  // note and the credit leave is what is asked for, and the note is told here only.
  if (p.closureNote && p.closureAmount && p.amountDue !== undefined) {
    const closedOn = p.closedAt ? ` on ${dayOf(p.closedAt, p)}` : '';
    const note = `${bill} is ${formatAmount(total, p.currency!)}. Credit note ${p.closureNote} of ${formatAmount(p.closureAmount, p.currency!)} gives back the fees of the days after your account was closed${closedOn}`;
    const credit = p.creditApplied && dec(p.creditApplied).gt(0) ? `, and your account credit paid ${formatAmount(p.creditApplied, p.currency!)}` : '';
    const left = dec(p.amountDue);
    if (!left.gt(0)) return `${note}${credit}: there is nothing to pay.`;
    const rest = formatAmount(left, p.currency!);
    return `${note}${credit}, so ${rest} is left to pay${due}.${pay(rest)}`;
  }
  // The account's credit paid it, or part of it, in the step that issued it: what is left is what is asked for.
  if (p.creditApplied && p.amountDue !== undefined) {
    const left = dec(p.amountDue);
    if (!left.gt(0)) return `${bill} is ${formatAmount(total, p.currency!)}. Your account credit paid it in full: there is nothing to pay.`;
    const rest = formatAmount(left, p.currency!);
    return `${bill} is ${formatAmount(total, p.currency!)}. Your account credit paid ${formatAmount(p.creditApplied, p.currency!)} of it, so ${rest} is left to pay${due}.${pay(rest)}`;
  }
  return `${bill} is ${formatAmount(total, p.currency!)}${due}.${pay('it')}`;
}

/** Subject and text of a template; a plan may name templates we do not know: they get a plain text. */
export function composeMessage(template: string, p: Record<string, string>): { subject: string; content: string } {
  const percent = /^[A-Z]+_(\d{1,3})_PERCENT$/.exec(template)?.[1] ?? p.percent;
  if (/_PERCENT$/.test(template) && percent) {
    return percent === '100'
      ? { subject: `Your ${p.allowance} allowance is used up`, content: `You have used all of your ${p.allowance} allowance for the period from ${p.period}.${renews(p)} Further use is charged at your plan's rates or needs a top-up or add-on.` }
      : { subject: `${percent}% of your ${p.allowance} allowance used`, content: `You have used ${percent}% of your ${p.allowance} allowance for the period from ${p.period}.${renews(p)}` };
  }
  switch (template) {
    case 'LOW_BALANCE':
      return { subject: 'Your balance is low', content: `Your balance is ${p.balance}, below ${p.threshold}. Top up to keep using the service.` };
    case 'BALANCE_DEPLETED':
      return { subject: 'Your balance is used up', content: `Your balance is used up (${p.balance}); chargeable service stops until you top up.` };
    case 'UPSELL_OFFER':
      return { subject: `Offer: ${p.offerName}`, content: `Running low? Add ${p.offerName} for ${p.price}. Accept it in the app before ${p.expiresAt}.` };
    case 'UPSELL_REMINDER':
      return { subject: `Last chance: ${p.offerName}`, content: `Your offer of ${p.offerName} for ${p.price} expires at ${p.expiresAt}.` };
    case 'UPSELL_FAILED':
      // `ended`: the order failed after the offer expired, so there is nothing left to accept.
      return p.ended
        ? { subject: `${p.offerName} was not added`, content: `We could not add ${p.offerName} to your line, so you do not have it. The offer ended at ${p.expiresAt}.` }
        : { subject: `${p.offerName} was not added`, content: `We could not add ${p.offerName} to your line, so you do not have it yet. You can accept the offer again in the app before ${p.expiresAt}.` };
    case 'BUNDLE_FEE_DUE':
      return { subject: 'Top up for your bundle', content: `Your bundle costs ${p.fee} and your balance is ${p.balance}: top up and it starts within a minute.` };
    case 'CHARGE_DUE':
      return { subject: 'A charge waits for your top-up', content: `${p.description}: ${p.amount} is due and your balance is ${p.balance}. Your next top-up pays it first.` };
    // Disputes (invoicing). The review deadline is set at assessment, after the dispute opened, so the
    // received message promises an answer, not a date. An automatic or full acceptance's note is the
    // rule's or the agent's bookkeeping; a partial or rejected decision's note is the explanation owed.
    case 'DISPUTE_RECEIVED':
      return { subject: 'We received your dispute', content: `We received your dispute of ${p.amount}${p.invoiceNumber ? ` on invoice ${p.invoiceNumber}` : ''}. We do not ask you to pay that amount while we look into it, and we will tell you when it is decided.` };
    // On an invoice already paid when decided (`paid`): a credit goes on the account, nothing is due again.
    // A re-rate correction (`nextInvoice`) is credited on the next invoice (creditGoes).
    // With its own credit note (`creditNote`): what the note did and what the invoice then owes; the customer gets no
    // separate CREDIT_NOTE_ISSUED for it.
    case 'DISPUTE_ACCEPTED':
      if (p.creditNote) return { subject: 'Your dispute was upheld', content: `${yourDispute(p)} was upheld with credit note ${p.creditNote} of ${p.credited || p.amount}.${disputeCreditNoteEffect(p)}` };
      return { subject: 'Your dispute was upheld', content: `${yourDispute(p)} was upheld: ${creditGoes({ ...p, rest: '' }, p.credited || p.amount)}.` };
    case 'DISPUTE_PARTLY_ACCEPTED':
      if (p.creditNote) {
        const rest = p.rest && !p.paid ? `; the other ${p.rest} is due again` : '';
        return { subject: 'Your dispute was partly upheld', content: `${yourDispute(p)} was partly upheld with credit note ${p.creditNote} of ${p.credited}${rest}.${disputeCreditNoteEffect(p)}${sentence(p.note)}` };
      }
      return { subject: 'Your dispute was partly upheld', content: `${yourDispute(p)} was partly upheld: ${creditGoes(p, p.credited)}.${sentence(p.note)}` };
    case 'DISPUTE_REJECTED':
      return { subject: 'Your dispute was not upheld', content: `${yourDispute(p)} was not upheld.${sentence(p.note)} ${paidOrDue(p)}` };
    case 'DISPUTE_WITHDRAWN':
      return { subject: 'Your dispute was withdrawn', content: `${yourDispute(p)} was withdrawn. ${paidOrDue(p)}` };
    // An add-on ended before it lapsed (endAddOn): the unused whole days' credit, where the account takes credit.
    case 'ADD_ON_ENDED':
      return {
        subject: `${p.offerName} ended`,
        content: `${p.offerName} on ${p.msisdn} ended on ${p.endedAt}.${p.refund ? ` ${p.refund} for its ${p.unusedDays} unused days is credited ${p.creditGoes}.` : ''}`,
      };
    case 'BILL_ISSUED':
      // Only invoicing's bill events carry these (a plan rule naming the template gets the plain text below).
      if (p.invoiceNumber && p.total && isDecimal(p.total) && isCurrencyCode(p.currency)) return { subject: `Your bill ${p.invoiceNumber} is ready`, content: billIssuedText(p) };
      return { subject: template, content: `Notice ${template}${p.period ? ` for ${p.period}` : ''}.` };
    case 'PAYMENT_RECEIVED':
    case 'TOPUP_CONFIRMED':
    case 'REFUND_SENT':
    case 'CREDIT_NOTE_ISSUED':
    case 'RECHARGE_REFUND_FAILED':
      // Only the money events carry these (a plan rule naming the template gets the plain text below).
      return composeMoneyMessage(template, p) ?? { subject: template, content: `Notice ${template}${p.period ? ` for ${p.period}` : ''}.` };
    case 'DUNNING_REMINDER':
    case 'DUNNING_FINAL_NOTICE':
    case 'DUNNING_BARRED':
    case 'DUNNING_RESTORED':
      // Only invoicing's dunning notices carry these (a plan rule naming the template gets the plain text below).
      return composeDunningMessage(template, p) ?? { subject: template, content: `Notice ${template}${p.period ? ` for ${p.period}` : ''}.` };
    case 'SPEND_ALERT':
      // Only usage's spend alert notices carry these (a plan rule naming the template gets the plain text below).
      if (p.alert && p.spent) return { subject: `Your usage charges reached ${p.alert}`, content: spendAlertText(p) };
      return { subject: template, content: `Notice ${template}${p.period ? ` for ${p.period}` : ''}.` };
    case 'ALLOWANCE_EXPIRING':
      return { subject: `Your ${p.allowance} allowance expires soon`, content: `Your ${p.allowance} allowance (${p.remaining} left) expires on ${p.validTo}.` };
    default:
      return { subject: template, content: `Notice ${template}${p.period ? ` for ${p.period}` : ''}.` };
  }
}

/**
 * Channels and receivers: the rule's channel when the customer allows it, otherwise every channel
 * the customer allows and we have an address for; a webhook always when one is registered.
 */
export function routeMessage(trigger: NotificationTrigger, prefs: Preferences, contacts: Contacts): { channel: Channel; receiver: string }[] {
  const available: { channel: Channel; receiver: string }[] = [];
  const smsTo = contacts.msisdn ?? contacts.phone;
  if (prefs.sms && smsTo) available.push({ channel: 'SMS', receiver: smsTo });
  if (prefs.email && contacts.email) available.push({ channel: 'EMAIL', receiver: contacts.email });
  if (prefs.push) available.push({ channel: 'PUSH', receiver: `customer:${contacts.customerId}` });
  const preferred = available.filter((a) => a.channel === trigger.preferredChannel);
  const routes = preferred.length ? preferred : available;
  return prefs.webhookUrl ? [...routes, { channel: 'WEBHOOK', receiver: prefs.webhookUrl }] : routes;
}

/** Seconds before attempt n+1 after n failed attempts; null once we give up. */
export function retryDelaySeconds(attempts: number, maxAttempts = 6): number | null {
  return attempts >= maxAttempts ? null : 5 * 2 ** (attempts - 1);
}
