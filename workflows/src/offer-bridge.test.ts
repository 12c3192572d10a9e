// The event → workflow bridge of upsell offers: which workflow (and so which offer) a
// usageOfferTriggered event starts.
import { describe, expect, it } from 'vitest';
import { upsellOfferInput, upsellWorkflowId } from './offer-bridge';

const event = { lineId: 'lin_1', offerCode: 'DATA_BOOST_5GB', rule: 'offer-data-boost-at-80', period: '2026-11-20' };

describe('usageOfferTriggered → upsellOfferWorkflow', () => {
  it("keys the workflow by the allowance period's start, as usage emits once per start: two periods sharing a name start two offers", () => {
    // The period that began at 06:00, named by its day before a late renewal restarted the periods at 12:00 that day, and the one after.
    const first = upsellOfferInput({ ...event, periodStart: '2026-11-20T06:00:00.000Z', periodEnd: '2026-11-20T12:00:00.000Z' });
    const second = upsellOfferInput({ ...event, periodStart: '2026-11-20T12:00:00.000Z', periodEnd: '2026-12-20T12:00:00.000Z' });
    expect(first).toEqual({ ...event, periodStart: '2026-11-20T06:00:00.000Z', periodEnd: '2026-11-20T12:00:00.000Z', validForHours: undefined });
    expect([upsellWorkflowId(first), upsellWorkflowId(second)]).toEqual(['upsell-lin_1-2026-11-20T06:00:00.000Z-DATA_BOOST_5GB', 'upsell-lin_1-2026-11-20T12:00:00.000Z-DATA_BOOST_5GB']);
    // The same event again joins its workflow.
    expect(upsellWorkflowId(upsellOfferInput({ ...event, periodStart: '2026-11-20T06:00:00.000Z', periodEnd: '2026-11-20T12:00:00.000Z' }))).toBe(upsellWorkflowId(first));
  });

  it("an event without the period's start keeps the name's id (as workflows started before); bounds that are not instants are left out", () => {
    const legacy = upsellOfferInput(event, 48);
    expect({ legacy, id: upsellWorkflowId(legacy) }).toEqual({ legacy: { ...event, validForHours: 48 }, id: 'upsell-lin_1-2026-11-20-DATA_BOOST_5GB' });
    expect(upsellOfferInput({ ...event, periodStart: 'soon', periodEnd: 7 })).toEqual({ ...event, validForHours: undefined });
    expect(() => upsellOfferInput({ lineId: 'lin_1', offerCode: 'DATA_BOOST_5GB' })).toThrow(/period/);
  });
});
