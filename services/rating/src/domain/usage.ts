/** Inputs of rating: one usage event and the subscriber's state at the time it is rated. */
import type { AccountType, CustomerType, LineStatus, UsageType } from './facts';
import type { DecimalString } from './plan-types';

export interface UsageEvent {
  id: string;
  lineId?: string;
  msisdn?: string;
  usageType: UsageType;
  /** MO/MT are accepted and read as OUTGOING/INCOMING. */
  direction: 'OUTGOING' | 'INCOMING' | 'MO' | 'MT';
  /** Units as a decimal string: seconds (VOICE), messages (SMS/MMS), MB (DATA), items (CONTENT). */
  quantity: DecimalString;
  /**
   * Units of the same call rated before this event, when it is a later part of one call (an online
   * charging session's interim and final reports): the tariff's increments apply to the call's
   * running total, so the event is charged what it adds to the call's chargeable units and the
   * parts of a call add up to the call rated as one event. Absent: the event is a call of its own.
   */
  precedingQuantity?: DecimalString;
  /** ISO 8601 instant with offset or Z, e.g. "2025-03-14T08:15:00Z". */
  occurredAt: string;
  calledNumber?: string;
  /** ISO 3166-1 alpha-2 country of the visited network, when roaming. */
  roamingCountry?: string;
  /** Mobile country code of the visited network, when roaming; wins over roamingCountry. */
  visitedMcc?: string;
}

export interface SubscriberContext {
  accountType: AccountType;
  customerType?: CustomerType;
  lineCount?: number;
  lineStatus: LineStatus;
  /** Used ratio per allowance id, as decimal strings ("0.8" = 80 % used). Missing = "0". */
  allowanceUsedRatios?: Record<string, DecimalString>;
  /** Money charged so far in the period; missing = "0". */
  spendInPeriod?: DecimalString;
  activeAddOns?: string[];
  /** Charged units already used this period per usage type; feeds PERIOD-basis price tables. */
  periodUsage?: Partial<Record<UsageType, DecimalString>>;
}

export class RatingInputError extends Error {
  constructor(
    readonly code: 'RATING_INVALID_EVENT' | 'RATING_INVALID_CONTEXT',
    message: string,
  ) {
    super(message);
    this.name = 'RatingInputError';
  }
}
