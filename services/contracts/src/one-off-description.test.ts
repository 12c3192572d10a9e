import { describe, expect, it } from 'vitest';
import { LONGEST_MSISDN, ONE_OFF_DESCRIPTION_MAX, cutText, oneOffDescription, planChangeWording, planFeeDescription } from './messages';

describe("a one-off charge's description (ONE_OFF_DESCRIPTION_MAX, one limit for subscribers, invoicing and the catalog)", () => {
  it('is kept whole up to the limit, and cut to it with an ellipsis beyond, counted in characters as varchar counts them', () => {
    const exact = 'a'.repeat(ONE_OFF_DESCRIPTION_MAX);
    expect(oneOffDescription(exact)).toBe(exact);
    const cut = oneOffDescription(`${'b'.repeat(ONE_OFF_DESCRIPTION_MAX)}c`);
    expect([cut.length, cut.endsWith('b…')]).toEqual([ONE_OFF_DESCRIPTION_MAX, true]);
    // Characters outside the BMP are one character each (two UTF-16 units): never split in half.
    const emoji = '📱'.repeat(ONE_OFF_DESCRIPTION_MAX);
    expect(oneOffDescription(emoji)).toBe(emoji);
    expect([...oneOffDescription(`${emoji}!`)]).toEqual([...'📱'.repeat(ONE_OFF_DESCRIPTION_MAX - 1), '…']);
    expect(cutText('short', 3)).toBe('sh…');
  });

  it("describes a plan fee as the bill shows it; a short one is unchanged", () => {
    expect(planFeeDescription('Starter pack', '+4915123456789')).toBe('Starter pack for +4915123456789');
    expect(planFeeDescription('Plan change fee', '+4915123456789', planChangeWording('Family Share 50 GB'))).toBe('Plan change fee for +4915123456789 (to Family Share 50 GB)');
    expect(oneOffDescription('Starter pack for +4915123456789')).toBe('Starter pack for +4915123456789');
    expect(LONGEST_MSISDN).toMatch(/^\+\d{15}$/);
  });
});
