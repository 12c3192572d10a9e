import { defineEntity, type InferEntity } from '@mikro-orm/core';

export const Invoice = defineEntity({
  name: 'Invoice',
  tableName: 'invoice',
  uniques: [{ properties: ['billingAccountId', 'periodStart'] }],
  properties: (p) => ({
    id: p.string().primary().length(40),
    billingAccountId: p.string().length(40).index(),
    number: p.string().length(40).nullable(),
    state: p.string().length(16),
    periodStart: p.datetime(),
    periodEnd: p.datetime(),
    currency: p.string().length(3),
    total: p.decimal('string').precision(18).scale(4),
    createdAt: p.datetime(),
  }),
});
export type Invoice = InferEntity<typeof Invoice>;

export const entities = [Invoice];
