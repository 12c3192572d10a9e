import { defineEntity, type InferEntity } from '@mikro-orm/core';

export const Wallet = defineEntity({
  name: 'Wallet',
  tableName: 'wallet',
  uniques: [{ properties: ['billingAccountId', 'currency'] }],
  properties: (p) => ({
    id: p.string().primary().length(40),
    billingAccountId: p.string().length(40).index(),
    currency: p.string().length(3),
    balance: p.decimal('string').precision(20).scale(6),
    createdAt: p.datetime(),
  }),
});
export type Wallet = InferEntity<typeof Wallet>;

export const entities = [Wallet];
