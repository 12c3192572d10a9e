import { EVENTS, type EventName } from '@ledgerline/contracts';

/**
 * Who may see an event of the registry (partners are MVNOs: a billing account is assigned to a partner, and a
 * partner's hub gets only its own customers' events unless staff granted it the scope ALL).
 * - PUBLIC: the catalog's (plans, offers, the ping): every hub.
 * - ACCOUNT: about one billing account, `data.billingAccountId`: the hubs that see everything, and the hubs of the
 *   partner the account is assigned to at the event's `time`. An event of this kind without a billingAccountId is
 *   nobody's account: treated as OPERATOR (fail closed).
 * - OPERATOR: about no account a partner can be placed by (a customer before it has an account, a bank transfer no
 *   invoice matched): only the hubs that see everything.
 * Every event name is listed (a Record over EventName): a new event cannot reach a partner before it is classified.
 */
export type EventAudience = 'PUBLIC' | 'ACCOUNT' | 'OPERATOR';

export const EVENT_AUDIENCE: Readonly<Record<EventName, EventAudience>> = {
  planPublished: 'PUBLIC',
  planVersionCancelled: 'PUBLIC',
  planRetired: 'PUBLIC',
  offerPublished: 'PUBLIC',
  offerRetired: 'PUBLIC',
  system: 'PUBLIC',
  // data: customerId, kind, locale, timezone: a customer is no partner's until one of its accounts is.
  customerCreated: 'OPERATOR',
  billingAccountCreated: 'ACCOUNT',
  billingAccountChanged: 'ACCOUNT',
  billingAccountClosed: 'ACCOUNT',
  lineStateChanged: 'ACCOUNT',
  subscriptionCreated: 'ACCOUNT',
  subscriptionChanged: 'ACCOUNT',
  productOrderStateChanged: 'ACCOUNT',
  oneOffChargeCreated: 'ACCOUNT',
  addOnEnded: 'ACCOUNT',
  upsellOfferStateChanged: 'ACCOUNT',
  usageReceived: 'ACCOUNT',
  usageStateChanged: 'ACCOUNT',
  usageThresholdReached: 'ACCOUNT',
  usageNotificationRequested: 'ACCOUNT',
  usageOfferTriggered: 'ACCOUNT',
  usageRerated: 'ACCOUNT',
  usageSessionOverageUnpaid: 'ACCOUNT',
  balanceTopup: 'ACCOUNT',
  balanceAdjusted: 'ACCOUNT',
  balanceAdjustmentRequested: 'ACCOUNT',
  balanceAdjustmentDecided: 'ACCOUNT',
  balanceAdjustmentExpired: 'ACCOUNT',
  balanceLow: 'ACCOUNT',
  balanceDepleted: 'ACCOUNT',
  bucketThreshold: 'ACCOUNT',
  bucketExpiring: 'ACCOUNT',
  bucketExpired: 'ACCOUNT',
  bundleRenewed: 'ACCOUNT',
  bucketRolledOver: 'ACCOUNT',
  bundleFeeDue: 'ACCOUNT',
  chargeDue: 'ACCOUNT',
  budgetReplenished: 'ACCOUNT',
  autoTopupRequested: 'ACCOUNT',
  walletClosed: 'ACCOUNT',
  walletSettled: 'ACCOUNT',
  walletPaidOut: 'ACCOUNT',
  walletPayoutReturned: 'ACCOUNT',
  walletCreditOwed: 'ACCOUNT',
  chargeRefused: 'ACCOUNT',
  rechargeRefused: 'ACCOUNT',
  rechargeRefundFailed: 'ACCOUNT',
  rechargeResolved: 'ACCOUNT',
  customerBillCreated: 'ACCOUNT',
  customerBillStateChanged: 'ACCOUNT',
  customerBillDunningNotice: 'ACCOUNT',
  paymentCreated: 'ACCOUNT',
  // A bank transfer no invoice matched (payer name, bank reference): its account is not known.
  paymentUnapplied: 'OPERATOR',
  paymentUnappliedRefunded: 'OPERATOR',
  refundCreated: 'ACCOUNT',
  creditNoteCreated: 'ACCOUNT',
  approvalRequested: 'ACCOUNT',
  approvalDecided: 'ACCOUNT',
  approvalExpired: 'ACCOUNT',
  disputeOpened: 'ACCOUNT',
  disputeEscalated: 'ACCOUNT',
  disputeResolved: 'ACCOUNT',
};

/**
 * Several names share a subject only if they share an audience (checked by the unit test). Built from the registry
 * this hub runs with; a subject it does not know (its producer deployed before the hub) is OPERATOR: the intake holds
 * such events for OWN_CUSTOMERS partners until an upgraded hub knows them (application/unknown-event-types.ts).
 */
const AUDIENCE_BY_SUBJECT = new Map<string, EventAudience>(Object.entries(EVENTS).map(([name, e]) => [e.subject, EVENT_AUDIENCE[name as EventName]]));

export const audienceOfSubject = (subject: string): EventAudience => AUDIENCE_BY_SUBJECT.get(subject) ?? 'OPERATOR';

/** The longest billing account id the hub keeps (account_partner.billing_account_id, held_event.billing_account_id). */
export const ACCOUNT_ID_MAX_LENGTH = 100;
/** The longest partner id the hub keeps (account_partner.partner_id). */
const PARTNER_ID_MAX_LENGTH = 100;
/** account_partner.partner_version is a PostgreSQL integer. */
const PARTNER_VERSION_MAX = 2_147_483_647;
/** The earliest instant PostgreSQL's timestamptz holds (4713 BC; held_event.event_time, account_partner.since). */
const EARLIEST_TIME_MS = Date.parse('-004712-01-01T00:00:00Z');

export type UnplaceableReason = 'billing_account_id_invalid' | 'partner_id_invalid' | 'partner_version_invalid' | 'time_out_of_range';

/**
 * Why an account event's data cannot be locked on or stored as it is: PostgreSQL refuses it (a NUL character in
 * text, a value over its column or integer, a time before 4713 BC), so the batch holding it would fail on every
 * redelivery. Such an event cannot be placed: it is set aside (application/record-events.ts).
 */
export interface Unplaceable {
  reason: UnplaceableReason;
  text: string;
}

function unfitText(value: string, field: string, max: number): string | undefined {
  if (value.includes('\u0000')) return `${field} holds a NUL character`;
  if (value.length > max) return `${field} is ${value.length} characters, over ${max}`;
  return undefined;
}

function unplaceable(billingAccountId: string, at: Date, assigns: Assignment | undefined, rawTime: unknown): Unplaceable | undefined {
  const id = unfitText(billingAccountId, 'data.billingAccountId', ACCOUNT_ID_MAX_LENGTH);
  if (id) return { reason: 'billing_account_id_invalid', text: id };
  if (at.getTime() < EARLIEST_TIME_MS) return { reason: 'time_out_of_range', text: `time ${String(rawTime).slice(0, 40)} is before 4713 BC` };
  const partner = assigns?.partnerId ? unfitText(assigns.partnerId, 'data.partnerId', PARTNER_ID_MAX_LENGTH) : undefined;
  if (partner) return { reason: 'partner_id_invalid', text: partner };
  if (assigns && assigns.version > PARTNER_VERSION_MAX) return { reason: 'partner_version_invalid', text: `data.partnerVersion ${assigns.version} is over ${PARTNER_VERSION_MAX}` };
  return undefined;
}

/** One assignment of an account to a partner (null: the operator's own), from a billingaccount event. */
export interface Assignment {
  /** Subscribers' partnerVersion: 0 as opened, one more per change of the partner. */
  version: number;
  partnerId: string | null;
  /** The billingaccount event's time: the assignment holds from then until a higher version's. */
  since: Date;
}

/** Where an event about an account lands: the partner (null: the operator) or not known yet. */
export type Placement = { known: true; partnerId: string | null } | { known: false };

/**
 * The partner an account was assigned to at `at`: of the assignments since at or before it, the highest version
 * (two changes may share an instant; a redelivered older one never takes a newer one back). An event a little
 * before the account's opening (clocks of two services) is the opening partner's. Not known when the hub has read
 * no assignment that covers `at` (the account's billingaccount.created not read yet).
 */
export function ownerAt(assignments: readonly Assignment[], at: Date): Placement {
  let best: Assignment | undefined;
  for (const a of assignments) if (a.since.getTime() <= at.getTime() && (!best || a.version > best.version)) best = a;
  best ??= assignments.find((a) => a.version === 0);
  return best ? { known: true, partnerId: best.partnerId } : { known: false };
}

/** What the hub needs to know of an event to decide who may see it. */
export type EventFacts =
  | { audience: 'PUBLIC' }
  /** `unplaceable`: an account event whose data PostgreSQL cannot hold; seen only by hubs that see everything, set aside. */
  | { audience: 'OPERATOR'; unplaceable?: Unplaceable }
  | {
      audience: 'ACCOUNT';
      billingAccountId: string;
      /** The event's time (CloudEvent `time`): the account's partner then is the one that sees it. */
      at: Date;
      /**
       * A billingaccount event naming the partner it assigns (created, or changed with partnerVersion): it places
       * itself, and a change of partner is also told to the partner the account leaves.
       */
      assigns?: Assignment & { partnerChanged: boolean };
    };

function validTime(raw: unknown, fallback: Date): Date {
  const at = typeof raw === 'string' ? new Date(raw) : undefined;
  return at && !Number.isNaN(at.getTime()) ? at : fallback;
}

/** The assignment a billingaccount.created / .changed event's data carries, if any (as usage's owners consumer reads it). */
export function assignmentOf(subject: string, data: unknown, at: Date): (Assignment & { partnerChanged: boolean }) | undefined {
  const created = subject === EVENTS.billingAccountCreated.subject;
  if (!created && subject !== EVENTS.billingAccountChanged.subject) return undefined;
  const d = (data ?? {}) as { partnerId?: unknown; partnerVersion?: unknown; changed?: unknown };
  // billingaccount.changed from before 2027-01-29 says nothing of the partner.
  if (!created && d.partnerVersion === undefined) return undefined;
  const version = d.partnerVersion === undefined ? 0 : d.partnerVersion;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) return undefined;
  if (d.partnerId !== undefined && d.partnerId !== null && typeof d.partnerId !== 'string') return undefined;
  const partnerId = typeof d.partnerId === 'string' && d.partnerId ? d.partnerId : null;
  return { version, partnerId, since: at, partnerChanged: !created && Array.isArray(d.changed) && d.changed.includes('partnerId') };
}

/** An event's facts from its subject, CloudEvent `data` and `time` (`now` when it has no usable time). */
export function factsOf(subject: string, data: unknown, time: unknown, now: Date): EventFacts {
  const audience = audienceOfSubject(subject);
  if (audience !== 'ACCOUNT') return { audience };
  const id = (data as { billingAccountId?: unknown } | null | undefined)?.billingAccountId;
  if (typeof id !== 'string' || !id) return { audience: 'OPERATOR' };
  const at = validTime(time, now);
  const assigns = assignmentOf(subject, data, at);
  const problem = unplaceable(id, at, assigns, time);
  if (problem) return { audience: 'OPERATOR', unplaceable: problem };
  return { audience: 'ACCOUNT', billingAccountId: id, at, ...(assigns ? { assigns } : {}) };
}

/** Whose events a hub gets: every event (the operator's hubs, partners granted ALL) or one partner's customers'. */
export type Viewer = { everything: true } | { everything: false; partnerId: string };

export type Decision = 'DELIVER' | 'SKIP' | 'HOLD';

/**
 * Whether a hub may get an event: PUBLIC always; OPERATOR only a hub that sees everything; ACCOUNT a hub that sees
 * everything, or the hub of the partner the account was assigned to at the event's time (a billingaccount event
 * that assigns a partner: that partner, and on a change of partner also the one before). HOLD: the account is not
 * placed yet, the event waits (never sent to a partner it might not belong to).
 */
export function decide(viewer: Viewer, facts: EventFacts, assignments: readonly Assignment[]): Decision {
  if (viewer.everything || facts.audience === 'PUBLIC') return 'DELIVER';
  if (facts.audience === 'OPERATOR') return 'SKIP';
  if (facts.assigns) {
    if (facts.assigns.partnerId === viewer.partnerId) return 'DELIVER';
    if (!facts.assigns.partnerChanged) return 'SKIP';
    const before = ownerAt(
      assignments.filter((a) => a.version < facts.assigns!.version),
      facts.at,
    );
    return before.known && before.partnerId === viewer.partnerId ? 'DELIVER' : 'SKIP';
  }
  const owner = ownerAt(assignments, facts.at);
  if (!owner.known) return 'HOLD';
  return owner.partnerId === viewer.partnerId ? 'DELIVER' : 'SKIP';
}

/** A partner's event scope, set by staff: OWN_CUSTOMERS (no row) or ALL (trusted integrations: CRM, data warehouse). */
export const EVENT_SCOPES = ['OWN_CUSTOMERS', 'ALL'] as const;
export type EventScope = (typeof EVENT_SCOPES)[number];

/** A hub's viewer: registered without a partner (the operator's, by an ADMIN) or by a partner with scope ALL: everything. */
export function viewerOf(hub: { partnerId: string | null }, partnersWithAll: ReadonlySet<string>): Viewer {
  return hub.partnerId === null || partnersWithAll.has(hub.partnerId) ? { everything: true } : { everything: false, partnerId: hub.partnerId };
}
