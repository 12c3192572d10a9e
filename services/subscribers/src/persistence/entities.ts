import { defineEntity, type InferEntity } from '@mikro-orm/core';

export const Customer = defineEntity({
  name: 'Customer',
  tableName: 'customer',
  properties: (p) => ({
    id: p.string().primary().length(40),
    name: p.string().length(200),
    kind: p.string().length(16),
    email: p.string().length(320).nullable(),
    locale: p.string().length(16),
    timezone: p.string().length(64),
    createdAt: p.datetime(),
  }),
});
export type Customer = InferEntity<typeof Customer>;

export const BillingAccount = defineEntity({
  name: 'BillingAccount',
  tableName: 'billing_account',
  properties: (p) => ({
    id: p.string().primary().length(40),
    customerId: p.string().length(40).index(),
    paymentMode: p.string().length(16),
    currency: p.string().length(3),
    billCycleDay: p.integer(),
    timezone: p.string().length(64),
    creditLimit: p.decimal('string').precision(18).scale(4).nullable(),
    createdAt: p.datetime(),
  }),
});
export type BillingAccount = InferEntity<typeof BillingAccount>;

export const Line = defineEntity({
  name: 'Line',
  tableName: 'line',
  properties: (p) => ({
    id: p.string().primary().length(40),
    billingAccountId: p.string().length(40).index(),
    msisdn: p.string().length(16).unique(),
    status: p.string().length(16),
    planCode: p.string().length(80).nullable(),
    createdAt: p.datetime(),
  }),
});
export type Line = InferEntity<typeof Line>;

export const entities = [Customer, BillingAccount, Line];
