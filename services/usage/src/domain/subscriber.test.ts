import { describe, expect, it } from 'vitest';
import { lineCountAt, type LineInfo } from './subscriber';

describe('lineCountAt', () => {
  const line: LineInfo = {
    lineId: 'lin', msisdn: null, billingAccountId: 'acc', status: 'ACTIVE', lineCount: 3, versions: [],
    // Two lines from January, a third and fourth in March, one ended in April.
    lineCounts: [
      { at: new Date('2026-01-01T00:00:00Z'), count: 2 },
      { at: new Date('2026-03-01T00:00:00Z'), count: 4 },
      { at: new Date('2026-04-05T09:00:00Z'), count: 3 },
    ],
  };

  it("is the account's count at the event's time, not now", () => {
    expect(lineCountAt(line, new Date('2026-02-10T00:00:00Z'))).toBe(2);
    expect(lineCountAt(line, new Date('2026-03-01T00:00:00Z'))).toBe(4);
    expect(lineCountAt(line, new Date('2026-04-05T08:59:59Z'))).toBe(4);
    expect(lineCountAt(line, new Date('2026-04-05T09:00:00Z'))).toBe(3);
  });

  it('is never below 1, and the count now without a history', () => {
    expect(lineCountAt(line, new Date('2025-12-31T00:00:00Z'))).toBe(1);
    expect(lineCountAt({ ...line, lineCounts: undefined }, new Date('2025-12-31T00:00:00Z'))).toBe(3);
    expect(lineCountAt({ ...line, lineCounts: [{ at: new Date('2026-01-01T00:00:00Z'), count: 0 }] }, new Date('2026-02-01T00:00:00Z'))).toBe(1);
  });
});
