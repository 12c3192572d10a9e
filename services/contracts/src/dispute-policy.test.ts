import { describe, expect, it } from 'vitest';
import { DEFAULT_DISPUTE_POLICY, disputePolicyProblems, disputeSlaMs, type DisputePolicy } from './dispute-policy';

describe('the dispute policy', () => {
  it('the default is usable: 48 h review, 24 h per escalation', () => {
    expect(disputePolicyProblems(DEFAULT_DISPUTE_POLICY)).toEqual([]);
    expect(disputeSlaMs(DEFAULT_DISPUTE_POLICY, 0)).toBe(48 * 3_600_000);
    expect(disputeSlaMs({ ...DEFAULT_DISPUTE_POLICY, hourMs: 1000 }, 2)).toBe(24_000);
  });

  it('names each field at fault, and refuses what is not an object instead of throwing', () => {
    expect(disputePolicyProblems({ reviewSlaHours: 0, escalationSlaHours: 24, escalationLevels: 1.5, onFinalBreach: 'MAYBE', hourMs: -1 } as unknown as DisputePolicy).map((p) => p.split(' ')[0])).toEqual([
      'policy.reviewSlaHours',
      'policy.escalationLevels',
      'policy.onFinalBreach',
      'policy.hourMs',
    ]);
    for (const bad of [null, 42, 'x', []]) expect(disputePolicyProblems(bad as unknown as DisputePolicy)).toEqual([expect.stringMatching(/^policy must be an object/)]);
  });
});
