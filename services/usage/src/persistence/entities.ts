import { defineEntity, type InferEntity } from '@mikro-orm/core';

export const UsageRecord = defineEntity({
  name: 'UsageRecord',
  tableName: 'usage_record',
  uniques: [{ properties: ['source', 'eventId'] }],
  properties: (p) => ({
    id: p.string().primary().length(40),
    source: p.string().length(64),
    eventId: p.string().length(128),
    lineId: p.string().length(40).index(),
    usageType: p.string().length(16),
    quantity: p.decimal('string').precision(20).scale(6),
    unit: p.string().length(16),
    occurredAt: p.datetime(),
    status: p.string().length(16),
    rejectionReason: p.text().nullable(),
    receivedAt: p.datetime(),
  }),
});
export type UsageRecord = InferEntity<typeof UsageRecord>;

export const entities = [UsageRecord];
