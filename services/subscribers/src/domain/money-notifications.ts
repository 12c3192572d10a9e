/**
 * Messages about the customer's money: a payment received (invoicing's payment.created:
 * PAYMENT_RECEIVED), a top-up credited (wallets' balance.topup: TOPUP_CONFIRMED) and money sent back
 * (invoicing's refund.created, wallets' wallet.paidout: REFUND_SENT). Pure: notifications.ts routes
 * the events here and composes the texts with the account's facts (its time zone: days are the
 * account's local days, as its invoices print them).
 *
 * What is not money from the customer sends nothing: invoicing applying credit the account already
 * had (payment channel ACCOUNT_CREDIT: an overpayment's excess, a credit note, a negative invoice)
 * is told by the message of what brought or used the credit — the bill issued onto it (BILL_ISSUED
 * says what the credit paid and what is left) or the payment whose excess it is (PAYMENT_RECEIVED
 * names the other invoices it paid). A staff balance adjustment (goodwill) is no top-up.
 */
import { dec, formatAmount, isCurrencyCode } from '@ledgerline/contracts';
import { dayOf, instant, isDecimal, str } from './event-fields';

export type MoneyNotifyingKind = 'paymentReceived' | 'topupConfirmed' | 'refundSent' | 'payoutSent';
export const MONEY_TEMPLATES = ['PAYMENT_RECEIVED', 'TOPUP_CONFIRMED', 'REFUND_SENT'] as const;

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
      return { template: 'TOPUP_CONFIRMED', params: { channel: str(d.channel) ?? '', amount: m.value, currency: m.currency, balance, duePaid: isDecimal(str(d.duePaid)) ? str(d.duePaid)! : '', at: instant(eventTime) } };
    }
    case 'refundSent': {
      const m = moneyOf(d, 'amount', d.currency);
      if ('invalid' in m) return m;
      // The reason is staff's note (it may be internal): not told.
      return { template: 'REFUND_SENT', params: { channel: str(d.channel) ?? '', amount: m.value, currency: m.currency, invoiceNumber: str(d.invoiceNumber) ?? '', at: instant(d.refundedAt) || instant(eventTime) } };
    }
    case 'payoutSent': {
      const a = d.amount as { amount?: unknown; currency?: unknown } | undefined;
      const m = moneyOf({ amount: a?.amount }, 'amount', a?.currency);
      if ('invalid' in m) return m;
      return { template: 'REFUND_SENT', params: { payout: 'yes', amount: m.value, currency: m.currency, payoutReference: str(d.payoutReference) ?? '', at: instant(d.paidOutAt) || instant(eventTime) } };
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
  const due = positive(p.duePaid) ? `; ${amount(p.duePaid!, c)} of it paid the charges that were waiting for a top-up` : '';
  const balance = p.balance ? ` Your balance is now ${amount(p.balance, c, true)}.` : '';
  return `Your ${what} of ${amount(p.amount!, c)} was credited${on(p)}${due}.${balance}`;
}

/** To the card it was paid with (the provider's refund), or paid back by finance; a closed account's balance paid out. */
function refundText(p: Params): string {
  const money = amount(p.amount!, p.currency!);
  const later = ' It can take a few business days to reach you.';
  if (p.payout) return `We paid the balance of your closed account, ${money}, back to you by bank transfer${on(p)}${p.payoutReference ? ` (reference ${p.payoutReference})` : ''}.${later}`;
  const invoice = p.invoiceNumber ? `invoice ${p.invoiceNumber}` : 'your invoice';
  if (p.channel === 'CARD') return `We refunded ${money} to the card you paid ${invoice} with${p.at ? `, on ${dayOf(p.at, p)}` : ''}. It can take a few business days to show on your statement.`;
  const how = p.channel === 'BANK_TRANSFER' ? ' by bank transfer' : '';
  return `We are paying ${money} back to you${how} for your payment of ${invoice}${p.at ? ` (refund of ${dayOf(p.at, p)})` : ''}.${later}`;
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
    default:
      return null;
  }
}
