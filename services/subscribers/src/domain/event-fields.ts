/**
 * Reading the `data` of another service's event for a customer message: fields arrive as JSON
 * from a service that may be older or newer than this one, so each is checked, never trusted.
 * Shared by the message builders (notifications.ts, money-notifications.ts, dunning-notifications.ts).
 */
import { dec, isTimeZone, localDay } from '@ledgerline/contracts';

/** A non-empty string field (a number as its text), else null. */
export const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' ? String(v) : null);

/** Whether a field's text is a finite decimal (money arrives as decimal strings, never JS numbers). */
export function isDecimal(v: string | null | undefined): v is string {
  if (v == null) return false;
  try {
    return dec(v).isFinite();
  } catch {
    return false;
  }
}

/** A field's ISO instant as sent, or '' when it is not one. */
export function instant(v: unknown): string {
  const t = str(v);
  return t && !Number.isNaN(new Date(t).getTime()) ? t : '';
}

/** An ISO instant as a local day of the account (`p.timezone`; UTC when it has none we can read). */
export function dayOf(iso: string, p: Record<string, string>): string {
  return localDay(new Date(iso), isTimeZone(p.timezone) ? p.timezone : 'UTC');
}
