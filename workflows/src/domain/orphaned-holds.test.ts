import { describe, expect, it } from 'vitest';
import { isOrphaned, orphanLiftKey, type DunningRunState } from './orphaned-holds';

const now = new Date('2026-11-27T12:00:00Z');
const HOUR = 3_600_000;
const ask = (state: DunningRunState, placedHoursAgo = 1, missingGraceMs = 24 * HOUR) =>
  isOrphaned({ state, newestPlacedAt: new Date(now.getTime() - placedHoursAgo * HOUR), now, missingGraceMs });

describe('orphaned dunning holds', () => {
  it('lifts the holds of a run that ended without its lifting step', () => {
    for (const s of ['TERMINATED', 'FAILED', 'TIMED_OUT', 'CANCELLED'] as const) expect(ask(s), s).toBe(true);
  });

  it('lifts a hold still open for a completed run at once: it lifted its holds before completing, so this one landed after', () => {
    expect(ask('COMPLETED', 0)).toBe(true);
    expect(ask('COMPLETED', 1000)).toBe(true);
  });

  it('keeps the holds of a run that is going (or whose state is not known)', () => {
    for (const s of ['RUNNING', 'CONTINUED_AS_NEW', 'PAUSED', 'UNSPECIFIED', 'UNKNOWN'] as const) expect(ask(s, 1000), s).toBe(false);
  });

  it('lifts the holds of a run Temporal no longer knows only after the grace period', () => {
    expect(ask('NOT_FOUND', 23)).toBe(false);
    expect(ask('NOT_FOUND', 24)).toBe(true);
    expect(ask('NOT_FOUND', 0, 0)).toBe(true);
  });

  it('keys a lift by a hold, within subscribers’ 160 characters', () => {
    expect(orphanLiftKey('hld_0123456789abcdef0123456789abcdef')).toBe('orphaned-hold-lift:hld_0123456789abcdef0123456789abcdef');
    expect(orphanLiftKey('x'.repeat(40)).length).toBeLessThanOrEqual(160);
  });
});
