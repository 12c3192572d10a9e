import { hash } from 'node:crypto';
import type { ChargeRequest } from '@ledgerline/contracts';

/**
 * A decimal string as one spelling of its value ("1.50", "01.5" → "1.5"; "-0.0" → "0"), so a
 * producer that writes a figure otherwise is still sending the same charge. Not a decimal: as it is
 * (a canonical spelling always is one, so the two never meet).
 */
export function canonicalDecimal(value: unknown): unknown {
  if (typeof value !== 'string') return value ?? null;
  const m = /^(-?)0*(\d+?)(?:\.(\d*?)0*)?$/.exec(value);
  if (!m || (value.includes('.') && !/\.\d/.test(value))) return value;
  const digits = m[3] ? `${m[2]}.${m[3]}` : m[2]!;
  return m[1] && digits !== '0' ? `-${digits}` : digits;
}

/** An instant as epoch milliseconds ("…T10:00:00Z" and "…T10:00:00.000Z" are one time); not a date: as it is. */
function canonicalTime(value: unknown): unknown {
  if (typeof value !== 'string') return value ?? null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? value : ms;
}

/**
 * A short fingerprint of what defines a charge, kept with its decision, to tell a repeat (same
 * chargeId, same charge: answered as the first time) from a chargeId reused for another charge
 * (refused, CHARGE_ID_CONFLICT). Every field of a ChargeRequest but the chargeId, decimals and the
 * time in one spelling, absent optional fields as their defaults. 96 bits of SHA-256 (16 base64url
 * characters): collisions need ~2^48 charges under ONE chargeId. Computed once per request on the
 * charge path (~2 µs). Changing the fields or their spelling makes every stored charge a conflict
 * for its repeats: give a new definition its own prefix and accept the old one.
 */
export function chargeFingerprint(c: ChargeRequest): string {
  const fields: unknown[] = [
    c.billingAccountId,
    c.lineId ?? null,
    c.paymentMode,
    c.currency,
    c.usageType,
    canonicalTime(c.occurredAt),
    canonicalDecimal(c.units),
    c.unit,
    c.allowanceIds ?? null,
    canonicalDecimal(c.pricePerUnit),
    canonicalDecimal(c.amount),
    c.kind ?? 'USAGE',
    !!c.allowOverdraft,
    c.zone ?? null,
    c.adjustsInvoiceId ?? null,
  ];
  // A rerate adjustment's allowance moves (ADR 0019): only when there are, so every fingerprint stored before them stays.
  if (Array.isArray(c.allowanceMoves) && c.allowanceMoves.length > 0) {
    fields.push(c.allowanceMoves.map((m) => (m && typeof m === 'object' ? [m.allowanceId ?? null, m.unit ?? null, canonicalDecimal(m.units), canonicalDecimal(m.uncoveredAmount)] : m)));
  }
  // The usage record a rerate adjustment corrects: only when named, so every fingerprint stored before stays.
  if (typeof c.usageRecordId === 'string') fields.push(['usageRecordId', c.usageRecordId]);
  return hash('sha256', JSON.stringify(fields), 'base64url').slice(0, 16);
}
