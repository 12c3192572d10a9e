import { DomainError } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { rows, sql } from './sql';

/**
 * What a payment reference could be in a bank statement's text: each run of letters followed by
 * digit groups (separated by spaces, dashes, dots, slashes, underscores), upper-cased without its
 * separators — "Payment inv 2026-000123 thanks" → ["INV2026000123"]. Digits glued to more digits or
 * letters make another token, which names no invoice: unmatched, never a neighbour's invoice.
 */
export function referenceTokens(text: string): string[] {
  return [...new Set([...text.matchAll(/[A-Za-z]+(?:[\s\-_./]*[0-9]+)+/g)].map((m) => m[0].replace(/[^A-Za-z0-9]/g, '').toUpperCase()))];
}

/**
 * Invoices whose reference, normalised as referenceTokens does, is one of the tokens. The expression
 * is the index's (migration Migration20261229000000_payment_reference_index), character for character.
 */
const NORMALISED_REFERENCE_MATCH = `select id, payment_reference from invoice
      where voided_at is null and payment_reference is not null
        and upper(regexp_replace(payment_reference, '[^A-Za-z0-9]', '', 'g')) = any(?::text[])
      order by payment_reference`;
export const NORMALISED_REFERENCE_LOOKUP = `${NORMALISED_REFERENCE_MATCH} limit 3`;

/**
 * The invoices a bank transfer's reference may name, as invoiceOfReference finds them: the exact
 * reference (one invoice), else those its tokens name (at most `limit`, by reference). One: the
 * invoice; none or several: what receiveBankTransfer keeps as an unapplied payment's candidates.
 */
export async function referenceCandidates(em: Em, reference: string, limit = 3): Promise<string[]> {
  const exact = await sql(em)('invoice').where({ payment_reference: reference }).whereNull('voided_at').first();
  if (exact) return [exact.id as string];
  const tokens = referenceTokens(reference);
  if (tokens.length === 0) return [];
  return (await rows<{ id: string; payment_reference: string }>(em, `${NORMALISED_REFERENCE_MATCH} limit ?`, [tokens, limit])).map((r) => r.id);
}

/** No invoice has this reference; also what a customer gets for another customer's (requirePayer): the same answer. */
export const referenceUnmatched = (reference: string): DomainError =>
  new DomainError('PAYMENT_REFERENCE_UNMATCHED', `No invoice has the payment reference "${reference}"`, { field: 'input.reference' });

/**
 * The invoice a bank transfer's reference names: the exact reference, else the references the text
 * holds (referenceTokens) against the invoices' references alike normalised. None is
 * PAYMENT_REFERENCE_UNMATCHED, more than one PAYMENT_REFERENCE_AMBIGUOUS: nothing is applied.
 * recordPayment pays the invoice it names; requirePayer (authorization.ts) checks a customer's reference
 * with it too, so the invoice checked is the invoice paid (kept here, apart from payments.ts: no import cycle).
 */
export async function invoiceOfReference(em: Em, reference: string): Promise<string> {
  const found = await referenceCandidates(em, reference);
  if (found.length === 0) throw referenceUnmatched(reference);
  if (found.length > 1) {
    // The other invoices' references are not named: the caller may be a customer, and they are other accounts'.
    throw new DomainError('PAYMENT_REFERENCE_AMBIGUOUS', `The reference "${reference}" names more than one invoice; name the invoice by its exact payment reference`, { field: 'input.reference' });
  }
  return found[0]!;
}

/**
 * The invoice a recordPayment input pays: its `invoiceId`, or, when that is missing or empty (""
 * is a valid ID), the invoice its reference names (invoiceOfReference); null when it names neither.
 * recordPayment and requirePayer (authorization.ts) both take it from here: the check once read
 * `invoiceId ?? reference` and recordPayment `invoiceId || reference`, so an empty invoiceId with
 * another customer's reference passed the check and paid (and showed) that customer's invoice.
 */
export async function invoiceToPay(em: Em, input: { invoiceId?: string | null; reference?: string | null }): Promise<string | null> {
  // The reference is kept on the payment row: a NUL (no text PostgreSQL holds) failed that insert after the card was
  // charged, or the look-up below (INTERNAL). Refused first, as receiveBankTransfer refuses a statement line's.
  if (typeof input.reference === 'string' && input.reference.includes('\u0000')) {
    throw new DomainError('PAYMENT_REFERENCE_INVALID', 'A payment reference cannot hold a NUL character', { field: 'input.reference' }, 'BAD_USER_INPUT');
  }
  if (input.invoiceId) return input.invoiceId;
  return input.reference ? invoiceOfReference(em, input.reference) : null;
}
