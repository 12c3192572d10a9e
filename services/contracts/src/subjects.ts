/**
 * The one registry of NATS subjects. Subjects are `billing.<service>.<entity>.<event>`,
 * lower-case dot tokens. Event types are TM Forum names. Nothing else in the code base
 * spells a subject by hand.
 */
export const SERVICES = ['catalog', 'subscribers', 'usage', 'wallets', 'invoicing'] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface EventDefinition {
  readonly subject: string;
  readonly type: string;
  readonly description: string;
}

function event(service: ServiceName, entity: string, name: string, type: string, description: string): EventDefinition {
  return { subject: `billing.${service}.${entity}.${name}`, type, description };
}

export const EVENTS = {
  planPublished: event('catalog', 'plan', 'published', 'ProductOfferingCreateEvent', 'A plan version was published and is now sellable from its effective date.'),
  planRetired: event('catalog', 'plan', 'retired', 'ProductOfferingStateChangeEvent', 'A plan was retired; existing subscriptions keep their pinned version.'),
  customerCreated: event('subscribers', 'customer', 'created', 'CustomerCreateEvent', 'A customer was created.'),
  billingAccountCreated: event('subscribers', 'billingaccount', 'created', 'BillingAccountCreateEvent', 'A billing account was opened.'),
  lineStateChanged: event('subscribers', 'line', 'statechanged', 'ServiceStateChangeEvent', 'A line moved in its lifecycle.'),
  subscriptionCreated: event('subscribers', 'subscription', 'created', 'ProductCreateEvent', 'A line was subscribed to a plan version.'),
  subscriptionChanged: event('subscribers', 'subscription', 'changed', 'ProductAttributeValueChangeEvent', 'A subscription changed plan version, add-ons or status.'),
  usageReceived: event('usage', 'record', 'received', 'UsageCreateEvent', 'A usage record was accepted for rating.'),
  usageStateChanged: event('usage', 'record', 'statechanged', 'UsageStateChangeEvent', 'A usage record changed status (RATED, REJECTED, RERATED, BILLED).'),
  balanceTopup: event('wallets', 'balance', 'topup', 'TopupBalanceCreateEvent', 'A wallet was credited by a recharge.'),
  balanceAdjusted: event('wallets', 'balance', 'adjusted', 'AdjustBalanceCreateEvent', 'An agent adjusted a balance.'),
  balanceLow: event('wallets', 'balance', 'low', 'BalanceThresholdEvent', 'A wallet fell below its low-balance threshold.'),
  customerBillCreated: event('invoicing', 'customerbill', 'created', 'CustomerBillCreateEvent', 'An invoice was issued.'),
  customerBillStateChanged: event('invoicing', 'customerbill', 'statechanged', 'CustomerBillStateChangeEvent', 'An invoice changed state.'),
  paymentCreated: event('invoicing', 'payment', 'created', 'PaymentCreateEvent', 'A payment was recorded.'),
  system: event('catalog', 'system', 'ping', 'SystemPingEvent', 'A health probe event, used by end-to-end checks.'),
} as const satisfies Record<string, EventDefinition>;

export type EventName = keyof typeof EVENTS;

/** Usage ingestion subject, partitioned by subscriber so one subscriber's events stay ordered. */
export const USAGE_INGEST_PARTITIONS = 16;
export function usageIngestSubject(partition: number): string {
  return `billing.usage.ingest.p${partition}`;
}

/** One JetStream stream holds every billing event; partners filter by subject. */
export const BILLING_STREAM = { name: 'BILLING', subjects: ['billing.>'] } as const;

export function subjectFor(name: EventName): string {
  return EVENTS[name].subject;
}
