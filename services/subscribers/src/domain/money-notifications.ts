/**
 * Messages about the customer's money: a payment received (invoicing's payment.created:
 * PAYMENT_RECEIVED), a top-up credited (wallets' balance.topup: TOPUP_CONFIRMED) and money sent back
 * (invoicing's refund.created, wallets' wallet.paidout: REFUND_SENT; a refund that makes its invoice owe
 * again says what is due and by when) and a credit note on an invoice (invoicing's creditnote.created:
 * CREDIT_NOTE_ISSUED: what it does, what the invoice then owes, and why only as a customer-safe cause,
 * never the staff's reason). Pure: notifications.ts routes
 * the events here and composes the texts with the account's facts (its time zone: days are the
 * account's local days, as its invoices print them).
 *
 * What is not money from the customer sends nothing: invoicing applying credit the account already
 * had (payment channel ACCOUNT_CREDIT: an overpayment's excess, a credit note, a negative invoice)
 * is told by the message of what brought or used the credit — the bill issued onto it (BILL_ISSUED
 * says what the credit paid and what is left) or the payment whose excess it is (PAYMENT_RECEIVED
 * names the other invoices it paid). A staff balance adjustment (goodwill) is no top-up.
 *
 * A card recharge wallets could neither credit nor refund (wallets' recharge.refundfailed: RECHARGE_REFUND_FAILED) tells
 * the customer their card was charged and the money is being sorted out; its resolution (recharge.resolved) tells them
 * the money was paid back (REFUNDED_OUTSIDE: REFUND_SENT), or nothing when it was CREDITED: that credit's own
 * balance.topup (TOPUP_CONFIRMED) tells it. Never staff's note.
 */
import { dec, formatAmount, isCurrencyCode } from '@ledgerline/contracts';
import { dayOf, instant, isDecimal, str } from './event-fields';

export type MoneyNotifyingKind = 'paymentReceived' | 'topupConfirmed' | 'refundSent' | 'payoutSent' | 'creditNoteIssued' | 'rechargeRefundFailed' | 'rechargeResolved';
export const MONEY_TEMPLATES = ['PAYMENT_RECEIVED', 'TOPUP_CONFIRMED', 'REFUND_SENT', 'CREDIT_NOTE_ISSUED', 'RECHARGE_REFUND_FAILED'] as const;

type Data = Record<string, unknown>;
type Params = Record<string, string>;
/** `ignored`: an event that needs no message (not an error: `invalid` says why). */
export type MoneyTrigger = { template: string; params: Params } | { invalid: string; ignored?: true };

/** Money in the currency's minor unit ("12.30 EUR"); balances floored, as every balance message prints them. */
const amount = (v: string, currency: string, floor = false): string => formatAmount(v, currency, floor ? 'FLOOR' : 'HALF_EVEN');
const positive = (v: string | undefined): boolean => !!v && isDecimal(v) && dec(v).gt(0);

/** The event's money and currency, checked: a message never prints an amount it could not read. */
function moneyOf(d: Data, field: string, currency: unknown): { value: string; currency: string } | { invalid: string } {
  const v = str(d[field]);
  const c = str(currency);
  if (!isDecimal(v)) return { invalid: `data.${field} ${JSON.stringify(d[field] ?? null)} is not a decimal` };
  if (!c || !isCurrencyCode(c)) return { invalid: `data.currency ${JSON.stringify(currency ?? null)} is not a currency we bill in` };
  return { value: v, currency: c };
}

/** The params of a money event's message (amounts as sent, days as instants: composeMoneyMessage prints them), or why none is sent. */
export function moneyTrigger(kind: MoneyNotifyingKind, d: Data, eventTime: string | undefined): MoneyTrigger {
  switch (kind) {
    case 'paymentReceived': {
      const channel = str(d.channel);
      if (channel === 'ACCOUNT_CREDIT') return { ignored: true, invalid: 'account credit applied by invoicing: no money from the customer (the bill or payment that brought the credit says what it paid)' };
      if (!channel || !['CARD', 'BANK_TRANSFER', 'WALLET'].includes(channel)) return { invalid: `data.channel ${JSON.stringify(d.channel ?? null)} is not CARD, BANK_TRANSFER or WALLET` };
      const m = moneyOf(d, 'amount', d.currency);
      if ('invalid' in m) return m;
      const creditApplied = Array.isArray(d.creditApplied)
        ? (d.creditApplied as Data[]).filter((c) => isDecimal(str(c.amount))).map((c) => ({ invoiceNumber: str(c.invoiceNumber) ?? '', amount: str(c.amount)!, amountDue: isDecimal(str(c.amountDue)) ? str(c.amountDue)! : '' }))
        : [];
      const opt = (v: unknown) => (isDecimal(str(v)) ? str(v)! : '');
      return {
        template: 'PAYMENT_RECEIVED',
        params: {
          channel,
          amount: m.value,
          currency: m.currency,
          applied: opt(d.appliedAmount),
          credit: opt(d.creditAmount),
          invoiceNumber: str(d.invoiceNumber) ?? '',
          invoiceState: str(d.invoiceState) ?? '',
          amountDue: opt(d.amountDue),
          disputed: opt(d.amountDisputed),
          creditLeft: opt(d.creditLeft),
          creditApplied: creditApplied.length ? JSON.stringify(creditApplied) : '',
          ...(d.autopay === true ? { autopay: 'yes' } : { autopay: '' }),
          at: instant(d.paidAt) || instant(eventTime),
        },
      };
    }
    case 'topupConfirmed': {
      const m = moneyOf(d, 'amount', d.currency);
      if ('invalid' in m) return m;
      const b = d.balance as { amount?: unknown; currency?: unknown } | undefined;
      const balance = b && isDecimal(str(b.amount)) && str(b.currency) === m.currency ? str(b.amount)! : '';
      const opt = (v: unknown) => (isDecimal(str(v)) ? str(v)! : '');
      return { template: 'TOPUP_CONFIRMED', params: { channel: str(d.channel) ?? '', amount: m.value, currency: m.currency, balance, duePaid: opt(d.duePaid), replenished: opt(d.replenished), at: instant(eventTime) } };
    }
    case 'refundSent': {
      const m = moneyOf(d, 'amount', d.currency);
      if ('invalid' in m) return m;
      // The reason is staff's note (it may be internal): not told. A refund that reopened its invoice (events
      // since 2027-01-30 say so) says what it owes again and by when.
      const owesAgain = d.reopened === true && positive(str(d.amountDue) ?? undefined);
      return {
        template: 'REFUND_SENT',
        params: {
          channel: str(d.channel) ?? '',
          amount: m.value,
          currency: m.currency,
          invoiceNumber: str(d.invoiceNumber) ?? '',
          at: instant(d.refundedAt) || instant(eventTime),
          ...(owesAgain ? { amountDue: str(d.amountDue)!, dueDate: instant(d.dueDate) } : {}),
          // Autopay accounts (events since 2027-02): charged to the card on file on the due date, or not charged at all.
          ...(owesAgain && (d.autopayCharge === 'DUE_DATE' || d.autopayCharge === 'NONE') ? { autopayCharge: d.autopayCharge } : {}),
          // The card charged only part of it (money refunded after the due date is not charged to it).
          ...(owesAgain && d.autopayCharge === 'DUE_DATE' && positive(str(d.autopayAmount) ?? undefined) && dec(str(d.autopayAmount)!).lt(str(d.amountDue)!) ? { autopayAmount: str(d.autopayAmount)! } : {}),
        },
      };
    }
    case 'creditNoteIssued': {
      const m = moneyOf(d, 'total', d.currency);
      if ('invalid' in m) return m;
      const kind = str(d.kind);
      if (!kind || !['CREDIT', 'OFFSET', 'REFUND'].includes(kind)) return { invalid: `data.kind ${JSON.stringify(d.kind ?? null)} is not CREDIT, OFFSET or REFUND` };
      // A dispute's own note: that dispute's message (dispute.resolved, whichever comes first) says what it does.
      // Decided from this event alone, so neither order nor a redelivery sends a second message.
      const disputeId = str(d.disputeId);
      if (disputeId) return { ignored: true, invalid: `the credit note of dispute ${disputeId}: its dispute.resolved message tells it` };
      const cause = str(d.cause);
      // A closure credit issued with its invoice: that bill's message (customerbill.created closureCredit) says it and
      // what is then due; decided from this event alone, as a dispute's note is. A later closure note is told here.
      if (cause === 'ACCOUNT_CLOSED' && d.issuedWithInvoice === true) return { ignored: true, invalid: `the closure credit issued with invoice ${str(d.invoiceNumber) ?? str(d.invoiceId) ?? ''}: its bill message tells it` };
      // Never data.reason (staff's text, and not on the event): only a cause a customer may be told.
      return {
        template: 'CREDIT_NOTE_ISSUED',
        params: {
          kind,
          number: str(d.number) ?? '',
          amount: m.value,
          currency: m.currency,
          invoiceNumber: str(d.invoiceNumber) ?? '',
          // Events from before 2027-01-30 do not say what became credit or what is due: '' (composeMoneyMessage says what a note of the kind does).
          credit: isDecimal(str(d.creditAmount)) ? str(d.creditAmount)! : '',
          amountDue: isDecimal(str(d.amountDue)) ? str(d.amountDue)! : '',
          dueDate: instant(d.dueDate),
          cause: cause && Object.hasOwn(CAUSES, cause) ? cause : '',
          // A closure credit (cause ACCOUNT_CLOSED): the instant the account closed, told as its local day.
          closedAt: cause === 'ACCOUNT_CLOSED' ? instant(d.accountClosedAt) : '',
          at: instant(eventTime),
        },
      };
    }
    case 'payoutSent': {
      const a = d.amount as { amount?: unknown; currency?: unknown } | undefined;
      const m = moneyOf({ amount: a?.amount }, 'amount', a?.currency);
      if ('invalid' in m) return m;
      return { template: 'REFUND_SENT', params: { payout: 'yes', amount: m.value, currency: m.currency, payoutReference: str(d.payoutReference) ?? '', at: instant(d.paidOutAt) || instant(eventTime) } };
    }
    case 'rechargeRefundFailed': {
      const a = d.amount as { amount?: unknown; currency?: unknown } | undefined;
      const m = moneyOf({ amount: a?.amount }, 'amount', a?.currency);
      if ('invalid' in m) return m;
      return { template: 'RECHARGE_REFUND_FAILED', params: { amount: m.value, currency: m.currency, at: instant(d.failedAt) || instant(eventTime) } };
    }
    case 'rechargeResolved': {
      const resolution = str(d.resolution);
      if (resolution === 'CREDITED') return { ignored: true, invalid: `recharge ${str(d.rechargeId) ?? ''} was credited: its balance.topup tells the customer (TOPUP_CONFIRMED)` };
      if (resolution !== 'REFUNDED_OUTSIDE') return { invalid: `data.resolution ${JSON.stringify(d.resolution ?? null)} is not REFUNDED_OUTSIDE or CREDITED` };
      const a = d.amount as { amount?: unknown; currency?: unknown } | undefined;
      const m = moneyOf({ amount: a?.amount }, 'amount', a?.currency);
      if ('invalid' in m) return m;
      // Staff's note (references, tickets) is theirs: not told.
      return { template: 'REFUND_SENT', params: { recharge: 'yes', amount: m.value, currency: m.currency, at: instant(d.resolvedAt) || instant(eventTime) } };
    }
  }
}

const on = (p: Params): string => (p.at ? ` on ${dayOf(p.at, p)}` : '');

function list(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/** "The other 64.30 EUR paid invoices INV-40 and INV-41 in full; 8.61 EUR stays on your account as credit for your next bills." */
function excessText(p: Params, first: boolean): string {
  if (!positive(p.credit)) return '';
  const c = p.currency!;
  const subject = first ? `It` : `The other ${amount(p.credit!, c)}`;
  const paid = p.creditApplied ? (JSON.parse(p.creditApplied) as { invoiceNumber: string; amount: string; amountDue: string }[]) : [];
  const kept = ' stays on your account as credit for your next bills.';
  if (paid.length === 0) return ` ${subject}${kept}`;
  const full = paid.filter((x) => x.amountDue !== '' && dec(x.amountDue).isZero());
  const part = paid.filter((x) => !(x.amountDue !== '' && dec(x.amountDue).isZero()));
  const parts: string[] = [];
  if (full.length) parts.push(`invoice${full.length > 1 ? 's' : ''} ${list(full.map((x) => x.invoiceNumber))} in full`);
  for (const x of part) parts.push(`${amount(x.amount, c)} of invoice ${x.invoiceNumber}${x.amountDue ? `, on which ${amount(x.amountDue, c)} is still due` : ''}`);
  const left = positive(p.creditLeft) ? `; ${amount(p.creditLeft!, c)}${kept}` : '.';
  return ` ${subject} paid ${list(parts)}${left}`;
}

/** "We received your card payment of 20.00 EUR on 2026-10-22 for invoice INV-…. 15.70 EUR is still due on it." */
function paymentText(p: Params): string {
  const c = p.currency!;
  const money = amount(p.amount!, c);
  const received = p.autopay
    ? `We charged ${money} to your card on file`
    : p.channel === 'BANK_TRANSFER'
      ? `We received your bank transfer of ${money}`
      : p.channel === 'WALLET'
        ? `We received ${money} from your prepaid balance`
        : `We received your card payment of ${money}`;
  const invoice = p.invoiceNumber ? `invoice ${p.invoiceNumber}` : 'your invoice';
  // Nothing of it went to the invoice (it was paid otherwise meanwhile): all of it is the account's credit.
  if (p.applied !== '' && p.applied !== undefined && dec(p.applied).isZero()) return `${received}${on(p)} for ${invoice}, which was already paid.${excessText(p, true)}`;
  const paidInFull = p.amountDue !== '' && p.amountDue !== undefined ? dec(p.amountDue).isZero() : p.invoiceState === 'SETTLED';
  let rest: string;
  if (paidInFull) rest = ': it is paid in full.';
  else if (positive(p.amountDue) && positive(p.disputed)) rest = `. ${amount(p.amountDue!, c)} is left on it, ${amount(p.disputed!, c)} of which you dispute: we do not ask for that until the dispute is decided.`;
  else if (positive(p.amountDue)) rest = `. ${amount(p.amountDue!, c)} is still due on it.`;
  else rest = '.';
  return `${received}${on(p)} for ${invoice}${rest}${excessText(p, false)}`;
}

/** "Your voucher of 10.00 EUR was credited on 2026-10-22; 4.99 EUR of it paid … Your balance is now 5.01 EUR." */
function topupText(p: Params): string {
  const c = p.currency!;
  const what = p.channel === 'VOUCHER' ? 'voucher' : p.channel === 'BANK_TRANSFER' ? 'bank transfer' : 'top-up';
  const balance = p.balance ? ` Your balance is now ${amount(p.balance, c, true)}.` : '';
  const credited = `Your ${what} of ${amount(p.amount!, c)} was credited${on(p)}`;
  // A committed-spend budget replenished in the same step (the charges paid took it below its threshold): what was
  // paid is not all "of it", and the balance is after the replenishment.
  if (positive(p.replenished)) {
    const budget = `a ${amount(p.replenished!, c)} replenishment of your budget`;
    return positive(p.duePaid)
      ? `${credited}. Together with ${budget}, it paid ${amount(p.duePaid!, c)} of charges that were waiting for a top-up.${balance}`
      : `${credited}, followed by ${budget}.${balance}`;
  }
  const due = positive(p.duePaid) ? `; ${amount(p.duePaid!, c)} of it paid the charges that were waiting for a top-up` : '';
  return `${credited}${due}.${balance}`;
}

/**
 * ", due on 2026-11-05" or, once the due date has passed at `p.at`, "; it was due on 2026-10-16, so please pay it now"
 * (the invoice's dunning starts again at once); nothing when the due date is not known.
 */
function dueText(p: Params): string {
  if (!p.dueDate) return '';
  const day = dayOf(p.dueDate, p);
  return p.at && new Date(p.dueDate).getTime() <= new Date(p.at).getTime() ? `; it was due on ${day}, so please pay it now` : `, due on ${day}`;
}

/**
 * " Invoice INV-… owes 12.50 EUR again, due on …: pay it in the app, or by bank transfer with the reference INV-…."
 * An autopay account is told what autopay does (invoicing's `autopayCharge`): reopened before its due date
 * the card on file is charged then (DUE_DATE); on or after it, the card is not charged again (NONE: the
 * refund is not taken back from it), so the customer pays it. A refund after the due date, before autopay's
 * due-date charge was made, leaves the refunded money out of that charge (DUE_DATE with `autopayAmount`): the
 * card is charged that part, the customer pays the rest.
 */
function reopenedText(p: Params): string {
  if (!positive(p.amountDue) || !p.invoiceNumber) return '';
  const owes = ` Invoice ${p.invoiceNumber} owes ${amount(p.amountDue!, p.currency!)} again`;
  const pay = `pay it in the app, or by bank transfer with the reference ${p.invoiceNumber}.`;
  if (p.autopayCharge === 'DUE_DATE' && p.autopayAmount) {
    const rest = amount(dec(p.amountDue!).minus(p.autopayAmount).toFixed(), p.currency!);
    return `${owes}: we will charge ${amount(p.autopayAmount, p.currency!)} of it to your card on file. The other ${rest} is not charged to your card${dueText(p)}: ${pay}`;
  }
  if (p.autopayCharge === 'DUE_DATE') {
    const ahead = p.dueDate && !(p.at && new Date(p.dueDate).getTime() <= new Date(p.at).getTime());
    return ahead ? `${owes}${dueText(p)}: we will charge it to your card on file on that day.` : `${owes}: we will charge it to your card on file.`;
  }
  if (p.autopayCharge === 'NONE') return `${owes}${dueText(p)}: your card on file is not charged for it automatically. ${pay.charAt(0).toUpperCase()}${pay.slice(1)}`;
  return `${owes}${dueText(p)}: ${pay}`;
}

/** To the card it was paid with (the provider's refund), or paid back by finance; a closed account's balance paid out; what its invoice owes again. */
function refundText(p: Params): string {
  return refundSentText(p) + reopenedText(p);
}

function refundSentText(p: Params): string {
  const money = amount(p.amount!, p.currency!);
  const later = ' It can take a few business days to reach you.';
  if (p.recharge) return `We paid back the ${money} of your card recharge that could not be credited to your balance${on(p)}.${later}`;
  if (p.payout) return `We paid the balance of your closed account, ${money}, back to you by bank transfer${on(p)}${p.payoutReference ? ` (reference ${p.payoutReference})` : ''}.${later}`;
  const invoice = p.invoiceNumber ? `invoice ${p.invoiceNumber}` : 'your invoice';
  if (p.channel === 'CARD') return `We refunded ${money} to the card you paid ${invoice} with${p.at ? `, on ${dayOf(p.at, p)}` : ''}. It can take a few business days to show on your statement.`;
  const how = p.channel === 'BANK_TRANSFER' ? ' by bank transfer' : '';
  return `We are paying ${money} back to you${how} for your payment of ${invoice}${p.at ? ` (refund of ${dayOf(p.at, p)})` : ''}.${later}`;
}

/** "Your card recharge of 20.00 EUR on 2026-10-22 was charged to your card but could not be credited …" */
function rechargeRefundFailedText(p: Params): string {
  const money = amount(p.amount!, p.currency!);
  return `Your card recharge of ${money}${on(p)} was charged to your card but could not be credited to your balance, and the refund to your card did not go through. We are putting it right: we will pay the ${money} back to you or credit it to your balance, and tell you when we have.`;
}

const CAUSES: Record<string, (p: Params) => string> = {
  DISPUTE_ACCEPTED: () => 'for your dispute we upheld',
  CHARGE_WAIVED: () => 'for a charge we waived',
  // Invoicing's closure credit: the invoice billed the fees of days after the customer left.
  ACCOUNT_CLOSED: (p) => `for the fees of the days after your account was closed${p.closedAt ? ` on ${dayOf(p.closedAt, p)}` : ''}`,
};

/**
 * "We issued credit note CN-… of 5.00 EUR on invoice INV-… on 2026-10-22, for a charge we waived." (or "…, for the
 * fees of the days after your account was closed on 2026-10-20.") and what it does:
 * CREDIT lowers what the invoice asks for (what was already paid stays as account credit), OFFSET is account
 * credit, REFUND is paid back (its refunds have their own REFUND_SENT); then what the invoice still owes.
 */
function creditNoteText(p: Params): string {
  const c = p.currency!;
  const invoice = p.invoiceNumber ? `invoice ${p.invoiceNumber}` : 'your invoice';
  const why = p.cause && Object.hasOwn(CAUSES, p.cause) ? `, ${CAUSES[p.cause]!(p)}` : '';
  const head = `We issued credit note ${p.number || ''}${p.number ? ' ' : ''}of ${amount(p.amount!, c)} on ${invoice}${on(p)}${why}.`;
  const kept = 'stays on your account as credit for your next bills';
  const known = p.amountDue !== '' && p.amountDue !== undefined;
  const nothingDue = ' Nothing more is due on the invoice.';
  switch (p.kind) {
    case 'REFUND': {
      // Part of it the card could not take back (the provider refused that refund after another went out): account credit.
      if (positive(p.credit) && dec(p.credit!).lt(p.amount!)) {
        const back = dec(p.amount!).minus(p.credit!).toFixed();
        return `${head} We are paying ${amount(back, c)} of it back to you: a separate message tells you how the money reaches you. Your card could not take back the other ${amount(p.credit!, c)}: it ${kept}.`;
      }
      return `${head} We are paying it back to you: a separate message tells you how the money reaches you.`;
    }
    case 'OFFSET': {
      const rest = !known ? '' : positive(p.amountDue) ? ` ${amount(p.amountDue!, c)} is still due on the invoice${dueText(p)}.` : nothingDue;
      return `${head} It is credit on your account: it pays what is open on your bills, then your next ones.${rest}`;
    }
    default:
      return known ? `${head}${creditNoteOnInvoice(p)}` : `${head} It lowers what that invoice asks for; any part of it you had already paid ${kept}.`;
  }
}

/**
 * What a CREDIT note of `p.amount` did to its invoice, knowing what became account credit (`p.credit`) and what the
 * invoice then owes (`p.amountDue`, by `p.dueDate`): " It lowers what you owe on that invoice: 30.69 EUR is left to
 * pay, due on 2026-11-05." Also an upheld dispute's message, which tells its own credit note.
 */
export function creditNoteOnInvoice(p: Params): string {
  const c = p.currency!;
  const kept = 'stays on your account as credit for your next bills';
  const nothingDue = ' Nothing more is due on the invoice.';
  const credit = positive(p.credit) ? amount(p.credit!, c) : '';
  const stillDue = positive(p.amountDue) ? ` ${amount(p.amountDue!, c)} is still due on it${dueText(p)}.` : nothingDue;
  // All of it was already paid: the whole note is the account's credit.
  if (credit && dec(p.credit!).eq(p.amount!)) return ` You had already paid that invoice: ${credit} ${kept}.${stillDue}`;
  if (credit) return ` It lowers what you owe on that invoice; ${credit} of it you had already paid ${kept}.${stillDue}`;
  return positive(p.amountDue) ? ` It lowers what you owe on that invoice: ${amount(p.amountDue!, c)} is left to pay${dueText(p)}.` : ` It lowers what you owe on that invoice.${nothingDue}`;
}

/** Subject and text of a money template, or null when the params are not a money event's (a plan rule naming the template: plain text). */
export function composeMoneyMessage(template: string, p: Params): { subject: string; content: string } | null {
  if (!p.amount || !isDecimal(p.amount) || !isCurrencyCode(p.currency)) return null;
  switch (template) {
    case 'PAYMENT_RECEIVED':
      return { subject: 'Payment received', content: paymentText(p) };
    case 'TOPUP_CONFIRMED':
      return { subject: 'Top-up credited', content: topupText(p) };
    case 'REFUND_SENT':
      return { subject: 'Refund on its way', content: refundText(p) };
    case 'RECHARGE_REFUND_FAILED':
      return { subject: 'Your recharge could not be completed', content: rechargeRefundFailedText(p) };
    case 'CREDIT_NOTE_ISSUED':
      return { subject: p.invoiceNumber ? `A credit on your invoice ${p.invoiceNumber}` : 'A credit on your invoice', content: creditNoteText(p) };
    default:
      return null;
  }
}
