import { describe, expect, it } from 'vitest';
import { offerEnd, offerExpiresAt } from './upsell-offer';

const at = (iso: string) => new Date(iso);
const now = at('2026-11-20T09:00:00Z');

describe('when an upsell offer ends', () => {
  it('is its deadline, or the end of its allowance period when that comes first', () => {
    expect(offerExpiresAt(now, 72, at('2026-11-21T12:00:00Z'))).toEqual(at('2026-11-21T12:00:00Z'));
    expect(offerExpiresAt(now, 72, at('2026-12-20T08:00:00Z'))).toEqual(at('2026-11-23T09:00:00Z'));
    expect(offerExpiresAt(now, 72, at('2026-11-23T09:00:00Z'))).toEqual(at('2026-11-23T09:00:00Z'));
    // Without a period end (a run started before it was passed on): the deadline.
    expect(offerExpiresAt(now, 48, null)).toEqual(at('2026-11-22T09:00:00Z'));
    expect(offerExpiresAt(now, 48, undefined)).toEqual(at('2026-11-22T09:00:00Z'));
    // A period already over: the deadline (presenting withdraws such an offer).
    expect(offerExpiresAt(now, 72, at('2026-11-20T08:00:00Z'))).toEqual(at('2026-11-23T09:00:00Z'));
  });

  it('of a stored offer says whether it ends with its period', () => {
    expect(offerEnd({ expiresAt: at('2026-11-21T12:00:00Z'), periodEnd: at('2026-11-21T12:00:00Z') })).toEqual({ at: at('2026-11-21T12:00:00Z'), withPeriod: true });
    expect(offerEnd({ expiresAt: at('2026-11-23T09:00:00Z'), periodEnd: at('2026-12-20T08:00:00Z') })).toEqual({ at: at('2026-11-23T09:00:00Z'), withPeriod: false });
    expect(offerEnd({ expiresAt: at('2026-11-23T09:00:00Z'), periodEnd: null })).toEqual({ at: at('2026-11-23T09:00:00Z'), withPeriod: false });
    // A row whose expiresAt was not cut to the period (not written by this code, but read safely).
    expect(offerEnd({ expiresAt: at('2026-11-23T09:00:00Z'), periodEnd: at('2026-11-21T08:00:00Z') })).toEqual({ at: at('2026-11-21T08:00:00Z'), withPeriod: true });
  });
});
