import { defineEntity, type InferEntity } from '@mikro-orm/core';

export const Plan = defineEntity({
  name: 'Plan',
  tableName: 'plan',
  properties: (p) => ({
    id: p.string().primary().length(40),
    code: p.string().length(80).unique(),
    name: p.string().length(200),
    status: p.string().length(16),
    paymentMode: p.string().length(16),
    currency: p.string().length(3),
    latestVersion: p.integer().default(0),
    createdAt: p.datetime(),
  }),
});
export type Plan = InferEntity<typeof Plan>;

export const PlanVersion = defineEntity({
  name: 'PlanVersion',
  tableName: 'plan_version',
  properties: (p) => ({
    id: p.string().primary().length(40),
    planId: p.string().length(40).index(),
    version: p.integer(),
    status: p.string().length(16),
    contentHash: p.string().length(64),
    document: p.text(),
    effectiveFrom: p.datetime().nullable(),
    publishedAt: p.datetime().nullable(),
    createdAt: p.datetime(),
  }),
});
export type PlanVersion = InferEntity<typeof PlanVersion>;

export const entities = [Plan, PlanVersion];
