/**
 * Online charging (Nchf-style): RESERVE rates the requested units on the line's plan and asks
 * wallets to hold them (allowances first, then money); UPDATE commits what was used and reserves
 * again (rated again then); TERMINATE commits the last units. What each commit charged becomes a
 * rated usage record of that interval (`<session>#<number>`, the closing one `<session>`), already
 * charged through the reservation (no ChargeRequest, so it is never charged twice), so live usage
 * follows a long session as it goes.
 *
 * Exactly once under retries: every request carries the session's invocation sequence number
 * (RESERVE 0 unless given; UPDATE and TERMINATE must give it, one more than the last). A request
 * with the number handled last is a retry (the network element lost the reply) and gets that
 * reply again with no effect; another number out of turn is refused. Every step derives its ids
 * from (session, number) - the reservation's request id, the commit's reservation, the record's
 * event id - and wallets and the record store are idempotent by them, so a retry racing the first
 * attempt, or one after a crash between the wallet and the session write, changes nothing twice.
 * An UPDATE or TERMINATE first claims its number on the session row (it moves on only from the
 * number before), with its fingerprint, before any effect: another request with the same number
 * is refused and charges nothing, while a twin of it (same figures) does the same idempotent
 * steps; the first to write its reply wins, the others answer that reply.
 *
 * A session closed TIMED_OUT (closeStaleSessions) still takes reports, numbered past its last one:
 * their units are charged as usage (below), nothing is granted. Such a report claims its number the
 * same way (its fingerprint marked LATE): a retransmission gets the stored reply, another report with
 * that number is refused RATING_FAILED and charges nothing. A request whose session is closed while
 * it holds its number (or before its retry after a crash) is answered as a late report too, and the
 * reservation it was granted is released: no reservation stays held for a closed session. A later
 * report that finds such a claim unanswered finishes it so (as its retry would) before it takes the
 * session on past it, so that reservation is released then, not left to wallets' expiry.
 * A closed session (TIMED_OUT or CLOSED) holds nothing, so it grants nothing: a retransmission of its
 * RESERVE or last UPDATE is not answered with the grant stored for it, and a RESERVE for it (or any
 * request to a CLOSED one but its TERMINATE's retransmission) is answered UNKNOWN_SESSION (closedAnswer).
 *
 * A session is one call: the tariff's increments (`first` / `next`: a 60 s minimum, per started
 * minute) apply to its running total, as offline rating applies them to one CDR of the same total
 * (the rating engine's partChargeableUnits / callTotalCovered; its records are rated with
 * `precedingQuantity`, the session's units before them). A report commits what its units add to the
 * call's chargeable units (a 10 s call on `first: 60` commits 60 s; 6 s more after 55 s on
 * `next: 60`, another 60 s; 5 s more after 10 s on `next: 1`, nothing), so the reports add up to
 * the call charged as one CDR, once. Units are held the same way (what the units asked add to the
 * call), and the units granted are those the reservation covers with what the call paid for already
 * (30 s used on `first: 60, next: 60` and 60 s held: 90 s granted), every one charged within it.
 * A hold that covers less than the call's next increment (the balance pays for 30 s of a 60 s
 * minimum) grants nothing: QUOTA_LIMIT_REACHED, and the hold is released (answerGrant).
 *
 * Units reported used but not charged through a reservation (it had expired, the network went
 * past the grant, or none was held) are charged like any usage event: a record of their own
 * (event id `<session>#<number>:unreserved`) whose ChargeRequest goes to wallets, so they are
 * neither lost nor free; a prepaid line's are charged within the report instead, down to the wallet's floor, and
 * what the balance cannot pay is recorded unpaid and ends the session's grants (chargePastGrant). `<session>` in record ids is sessionRecordKey: the session id, or for a
 * long one (over 106 characters) its head and a hash of it, so every event id fits 128 characters.
 *
 * A session belongs to whoever opened it, and its id is that opener's (SessionCaller): a session is
 * named by (partner, session id), `partner_key` and `id` of its row ('' for the platform's sessions).
 * Partner A's `gy-1` and partner B's `gy-1` are two sessions: B's RESERVE of an id A uses opens B's
 * own (answered as for any fresh id, so it tells B nothing of A's), and B's UPDATE or TERMINATE of an
 * id only A uses is answered as for a session that does not exist (unknownSession). Diameter
 * Session-Ids are unique per origin host only, so two partners' network elements may well make the
 * same ones. What a session's ids name outside its row - wallets' sessionId and reservation request
 * ids, its records' event ids - is named by its `ref` (sessionRef): the session id for the platform's
 * sessions, the id under the partner's name for a partner's, so two partners' sessions never share a
 * reservation or a record. The platform (network elements over NATS, SYSTEM, ADMIN) names its own
 * sessions by id, and a partner's by giving that partner's id (`partnerId` in the request). Sessions
 * stored before (ref null) keep the names their ids had (the session id) and the rules they had: one
 * of unknown opener is anyone's by its id, and the platform reaches a partner's by its id (findSession).
 */
import { createHash } from 'node:crypto';
import { RPC, type ChargingResultCode, type WalletCommitRequest, type WalletReleaseRequest, type WalletReserveReply, type WalletReserveRequest, type WalletSessionReply } from '@ledgerline/contracts';
import { Decimal, dec, type UsageOverageUnpaidData } from '@ledgerline/contracts';
import { MAX_QUANTITY_DECIMALS, callTotalCovered, partChargeableUnits, type IncrementGrid } from '@ledgerline/rating';
import type { NatsConnection } from '@ledgerline/platform';
import { versionAt, statusAt, type LineInfo } from '../domain/subscriber';
import { MAX_QUANTITY, quantityText, validateUsage } from '../domain/usage-input';
import type { UsageRuntime } from '../usage-runtime';
import { SESSION_SOURCE, zoneOf, type UnpaidOverage } from './usage-pipeline';
import { partnerMayCharge } from './partner-lines';

export interface ChargingSessionRequest {
  operation: 'RESERVE' | 'UPDATE' | 'TERMINATE' | string;
  sessionId: string;
  /** Nchf invocationSequenceNumber: 0 (or the first number) on RESERVE, then one more per request. */
  invocationSequenceNumber?: number | null;
  lineId?: string | null;
  msisdn?: string | null;
  usageType?: string | null;
  requestedUnits?: string | null;
  usedUnits?: string | null;
  calledNumber?: string | null;
  roamingCountry?: string | null;
  visitedMcc?: string | null;
  /**
   * Whose session this is, from the platform (SYSTEM, ADMIN, NATS): a partner's id names that partner's
   * session (a RESERVE with it opens one for that partner); absent, the platform's own. A PARTNER's
   * sessions are always its own (GraphQL: its token's partnerId; another value is FORBIDDEN).
   */
  partnerId?: string | null;
}

export interface ChargingSessionReply {
  sessionId: string;
  resultCode: ChargingResultCode;
  grantedUnit?: string | null;
  validityTime?: number | null;
  finalUnitIndication: boolean;
  usageRecordId?: string | null;
  message?: string;
  /** What units used past the grant left unpaid (chargePastGrant), beside the message naming it: a caller need not parse the text. */
  unpaidAmount?: { amount: string; currency: string };
}

interface SessionContext {
  lineId: string;
  msisdn: string | null;
  billingAccountId: string;
  usageType: string;
  unit: string;
  currency: string;
  pricePerUnit: string;
  allowanceIds: string[];
  allowOverdraft: boolean;
  /**
   * The line's payment mode when the units were held: a PREPAID session's units past its grant are charged within the
   * report (chargePastGrant). Absent in a context stored before it was kept: the line's subscription tells.
   */
  paymentMode?: 'PREPAID' | 'POSTPAID';
  /** Tariff zone of the units held (HOME, a destination zone, ROAMING_<zone>): wallets echoes it on the commit's ChargeResult. */
  zone?: string;
  /**
   * Whether the held price per unit is the rated price over the units asked for (a surcharge or discount applied, or a
   * price table) rather than the tariff's flat one: then the price is not proportional to the units (a fixed fee or
   * credit per call), and the units used are committed at their own rated price (partPricePerUnit). Absent: flat, or a
   * context stored before (committed at the held price, as then).
   */
  pricedByPart?: boolean;
  reservationId: string | null;
  startedAt: string;
  event: Record<string, unknown>;
  /** When the session last reported used units (the start of the next report's interval); the RESERVE's time before. */
  reportedAt?: string;
  /**
   * The increments the session is charged by (rating's RatingResult.increments; null: the engine's
   * default, whole units). The session is one call: they apply to its running total (see
   * chargedPart). Absent in a context stored before they applied online: such a session is charged
   * the units used, as it was then.
   */
  increments?: IncrementGrid | null;
  /**
   * The session's total (units used in all reports) that its reservation, with what the session paid
   * for already, covers (callTotalCovered): the units granted are this less the total so far.
   */
  coveredUpTo?: string;
}

/**
 * Whose sessions a request names (the space its session id is in). `partnerId`: a partner's - a PARTNER
 * over GraphQL (its token's partnerId), or the platform acting for that partner (SYSTEM, ADMIN or NATS
 * giving `partnerId`); null: the platform's own sessions - network elements over NATS request/reply
 * (NATS's `network` user, inside the platform: the request carries no caller), SYSTEM and ADMIN.
 */
export interface SessionCaller {
  partnerId: string | null;
  /**
   * True when the platform names a partner's session (SYSTEM or ADMIN giving `partnerId`, or a NATS request with it):
   * it charges any line. A partner's own requests (no flag: a PARTNER over GraphQL) charge only the lines of its own
   * customers (partnerMayCharge); any other line is answered as a line usage does not know.
   */
  byPlatform?: boolean;
}

/** Whether the caller's requests may charge only its own customers' lines: a partner's own (not the platform acting for it). */
function chargesOwnCustomersOnly(caller: SessionCaller): caller is { partnerId: string } {
  return caller.partnerId !== null && caller.byPlatform !== true;
}

/** The platform's own sessions: network elements over NATS, SYSTEM, ADMIN giving no partnerId. */
export const PLATFORM: SessionCaller = { partnerId: null };

/** A request over NATS (the platform): the partner it names, or the platform's own sessions. Checked by sessionInputProblem. */
export function natsCallerOf(req: ChargingSessionRequest): SessionCaller {
  const partnerId = req && typeof req === 'object' ? req.partnerId : undefined;
  return typeof partnerId === 'string' ? { partnerId, byPlatform: true } : PLATFORM;
}

/** What a partner's sessions' refs begin with; the platform may not open a session whose own id does. */
export const PARTNER_REF_PREFIX = 'partner:';

/**
 * The name of what a session's ids derive outside its row (wallets' sessionId and reservation request
 * ids `<ref>#<n>`; its records' event ids, sessionRecordKey of it): the session id for the platform's
 * sessions, `partner:<partner, URI-encoded>:<session id>` for a partner's. One to one: the encoded
 * partner holds no `:`, and the platform opens no session whose id begins with `partner:`.
 */
export function sessionRef(partnerKey: string, sessionId: string): string {
  return partnerKey === '' ? sessionId : `${PARTNER_REF_PREFIX}${encodeURIComponent(partnerKey)}:${sessionId}`;
}

interface StoredSession {
  state: string;
  used: string;
  context: string;
  sequence_number: number;
  last_request: string | null;
  last_reply: string | null;
  /** When the row last changed: for a number claimed and not answered yet, when it was claimed. */
  updated_at: Date;
  /** The partner that opened the session; null: the platform did (or, with opener_recorded false, nobody knows). */
  partner_id: string | null;
  /** False for a session stored before openers were recorded (migration `…230000000_session_opener`): anyone's. */
  opener_recorded: boolean;
  /** The id space the session is named in (with `id`, its key): the partner's id, '' for the platform's (and those of unknown opener). */
  partner_key: string;
  /** What its ids outside the row are named by (sessionRef); null for a session stored before ids were per partner: its id. */
  ref: string | null;
}

/**
 * A stored session as a request reaches it: its `id`, the `space` of the caller's sessions (how it is looked up,
 * loadSession) and `key`, its row's partner_key (how it is written: the row's key is (partner_key, id)).
 */
interface SessionName {
  id: string;
  space: string;
  key: string;
}

/** The name a stored session's ids derive from (sessionRef; its id for a session stored before ids were per partner). */
function refOf(s: StoredSession, sessionId: string): string {
  return s.ref ?? sessionId;
}

const SOURCE = SESSION_SOURCE;
const OPERATIONS = ['RESERVE', 'UPDATE', 'TERMINATE'];
/** Most units one request may report or ask for: what one usage record may hold; more would be a REJECTED, uncharged record. */
const MAX_UNITS = MAX_QUANTITY;
const MAX_SEQUENCE = 2_147_483_647;
const MAX_SESSION_ID = 128;
/** Usage records' event ids are at most 128 characters; the longest a session adds to its key is `#<n>:unreserved`. */
const MAX_RECORD_KEY = 128 - `#${MAX_SEQUENCE}:unreserved`.length;
/** Text fields of a request (PostgreSQL refuses NUL in text, so none may hold one). */
const TEXT_FIELDS = ['operation', 'sessionId', 'lineId', 'msisdn', 'usageType', 'requestedUnits', 'usedUnits', 'calledNumber', 'roamingCountry', 'visitedMcc', 'partnerId'] as const;
const MAX_PARTNER_ID = 128;
/** The unit fields each operation reads. */
const UNIT_FIELDS: Record<string, ('requestedUnits' | 'usedUnits')[]> = { RESERVE: ['requestedUnits'], UPDATE: ['usedUnits', 'requestedUnits'], TERMINATE: ['usedUnits'] };
/** The request fields a rating probe (probeOf, locationOf) carries into its usage record: its requestedUnits as the record's quantity. */
const PROBED_FIELDS: readonly string[] = ['lineId', 'msisdn', 'usageType', 'requestedUnits', 'calledNumber', 'roamingCountry', 'visitedMcc'];

/**
 * Which request field a rating probe (validateUsage) refused: the record's field its rejection names (checkUsageFields's,
 * or usage's lineId / msisdn: validateUsage's `field`), as the request calls it; 'input' for a field the probe made itself (its id, its time).
 */
function probedField(refused: { field?: string }): string {
  const field = refused.field === 'quantity' ? 'requestedUnits' : refused.field;
  return field !== undefined && PROBED_FIELDS.includes(field) ? field : 'input';
}

/**
 * A unit field as usage records hold it (usage-input's quantityText: "05" is 5; over NATS a whole JSON number is taken
 * exactly), or undefined when it is not one.
 */
function unitsOf(value: unknown): string | undefined {
  const units = quantityText(value);
  return units !== undefined && Number(units.split('.')[0]) <= MAX_UNITS ? units : undefined;
}

/**
 * The id a session's usage records are named by: the session id, or for one that would make an
 * event id over 128 characters (or one the record store would trim), its first characters and a
 * hash of all of it - the same for every request of the session, so retries find their records.
 */
export function sessionRecordKey(sessionId: string): string {
  if (sessionId.length <= MAX_RECORD_KEY && sessionId === sessionId.trim()) return sessionId;
  const hash = createHash('sha256').update(sessionId).digest('hex').slice(0, 32);
  return `${sessionId.slice(0, MAX_RECORD_KEY - hash.length - 1).trim()}~${hash}`;
}

/**
 * The first problem with a request's own fields (named as in the input), or null. `now`: when a RESERVE's units would be
 * rated; `caller`: whose sessions it names (a RESERVE of the platform's own may not take a name partners' refs have).
 */
export function sessionInputProblem(req: ChargingSessionRequest, now: Date, caller?: SessionCaller): { field: string; message: string } | null {
  if (!req || typeof req !== 'object' || Array.isArray(req)) return { field: 'input', message: 'a charging session request is required' };
  const fields = req as unknown as Record<string, unknown>;
  const nul = TEXT_FIELDS.find((f) => typeof fields[f] === 'string' && (fields[f] as string).includes('\u0000'));
  if (nul) return { field: nul, message: `${nul} contains a NUL character` };
  if (typeof req.sessionId !== 'string' || !req.sessionId.trim() || req.sessionId.length > MAX_SESSION_ID) return { field: 'sessionId', message: `sessionId is required (at most ${MAX_SESSION_ID} characters)` };
  const op = String(req.operation ?? '').toUpperCase();
  if (!OPERATIONS.includes(op)) return { field: 'operation', message: 'operation must be RESERVE, UPDATE or TERMINATE' };
  if (req.partnerId != null && (typeof req.partnerId !== 'string' || !req.partnerId.trim() || req.partnerId.length > MAX_PARTNER_ID)) {
    return { field: 'partnerId', message: `partnerId, when given, names the partner whose session this is (text, at most ${MAX_PARTNER_ID} characters); leave it out for the platform's own sessions` };
  }
  if (op === 'RESERVE' && caller?.partnerId === null && req.sessionId.startsWith(PARTNER_REF_PREFIX)) {
    return { field: 'sessionId', message: `a session of the platform's own may not have an id beginning with "${PARTNER_REF_PREFIX}" (partners' sessions are named so); give partnerId to open a partner's session` };
  }
  const n = req.invocationSequenceNumber;
  if (n == null) {
    if (op !== 'RESERVE') return { field: 'invocationSequenceNumber', message: `invocationSequenceNumber is required for ${op} (one more than the session's last request), so a repeated request is recognised` };
  } else if (!Number.isSafeInteger(n) || n < 0 || n > MAX_SEQUENCE) {
    return { field: 'invocationSequenceNumber', message: 'invocationSequenceNumber must be a whole number from 0' };
  }
  if (op === 'RESERVE' && req.requestedUnits == null) return { field: 'requestedUnits', message: 'requestedUnits is required for RESERVE' };
  for (const field of UNIT_FIELDS[op]!) {
    if (fields[field] != null && unitsOf(fields[field]) === undefined) {
      return { field, message: `${field} must be a non-negative decimal string such as "12.5", with at most ${MAX_QUANTITY_DECIMALS} decimals and at most ${MAX_UNITS}` };
    }
  }
  // A reservation holds units: 0 asks wallets to hold nothing (refused there, AMOUNT_NOT_POSITIVE: RATING_FAILED, and an OPEN
  // session row was stored all the same). No "let the charging function choose" quota here (requestedUnits is required above), so 0 is bad input.
  if (op === 'RESERVE' && dec(unitsOf(req.requestedUnits)!).isZero()) return { field: 'requestedUnits', message: 'requestedUnits must be more than 0 for RESERVE (the units the session asks to hold)' };
  if (op === 'RESERVE') {
    const probe = validateUsage(probeOf(req, now), { source: SOURCE }, now);
    if (!probe.ok) {
      const field = probedField(probe);
      return { field, message: probe.rejection.code === 'SUBSCRIBER_MISSING' ? 'lineId or msisdn is required' : probe.rejection.reason.replace(/^quantity/, 'requestedUnits') };
    }
  }
  if (op === 'UPDATE') {
    const location = locationOf(req, now);
    if ('problem' in location) return location.problem;
  }
  return null;
}

/**
 * Where an UPDATE says the subscriber is now (3GPP's location-change triggers: a session that crosses a border goes on):
 * its `roamingCountry` / `visitedMcc` as a usage event holds them, or none when it gives neither (the session's stays).
 * The location given replaces the session's whole (visitedMcc outranks roamingCountry in rating, so one kept from the
 * RESERVE would override a new one).
 */
function locationOf(req: ChargingSessionRequest, now: Date): { location?: { roamingCountry?: string; visitedMcc?: string } } | { problem: { field: string; message: string } } {
  if (req.roamingCountry == null && req.visitedMcc == null) return {};
  const probe = validateUsage({ eventId: 'probe', lineId: 'probe', usageType: 'DATA', quantity: '0', occurredAt: now.toISOString(), roamingCountry: req.roamingCountry, visitedMcc: req.visitedMcc }, { source: SOURCE }, now);
  if (!probe.ok) return { problem: { field: probedField(probe), message: probe.rejection.reason } };
  const { roamingCountry, visitedMcc } = probe.usage;
  return { location: { ...(roamingCountry ? { roamingCountry } : {}), ...(visitedMcc ? { visitedMcc } : {}) } };
}

/** A RESERVE's units as a usage event of `now`, to validate and rate them (never stored). */
function probeOf(req: ChargingSessionRequest, now: Date): Record<string, unknown> {
  return { eventId: 'probe', lineId: req.lineId, msisdn: req.msisdn, usageType: req.usageType, quantity: unitsOf(req.requestedUnits) ?? req.requestedUnits, occurredAt: now.toISOString(), calledNumber: req.calledNumber, roamingCountry: req.roamingCountry, visitedMcc: req.visitedMcc };
}

/** The request with its unit fields as decimal strings (whole JSON numbers over NATS become their digits); after sessionInputProblem. */
function normalised(req: ChargingSessionRequest, op: string): ChargingSessionRequest {
  const copy = { ...req };
  for (const field of UNIT_FIELDS[op]!) if (copy[field] != null) copy[field] = unitsOf(copy[field]);
  return copy;
}

/**
 * Marks the fingerprint a report on a TIMED_OUT session claims its number with, so such a claim is
 * told from one the session made while OPEN (a request cut short by the session's close is resumed
 * through its commit and ends as a late report, see answerClosedUnder; a late claim charges all
 * its units as usage).
 */
const LATE = 'late:';

/** What makes two requests with the same number the same request. */
function fingerprintOf(op: string, n: number, req: ChargingSessionRequest): string {
  return JSON.stringify([op, n, req.usedUnits ?? null, req.requestedUnits ?? null, req.lineId ?? null, req.msisdn ?? null, req.usageType ?? null, req.calledNumber ?? null, req.roamingCountry ?? null, req.visitedMcc ?? null]);
}

/** The request a fingerprint was made of (fingerprintOf holds every field that shapes its effects), or undefined for another form. */
function requestOfFingerprint(sessionId: string, claimed: string): ChargingSessionRequest | undefined {
  // A late report's claim is its fingerprint marked LATE: the request is the same.
  const fingerprint = claimed.startsWith(LATE) ? claimed.slice(LATE.length) : claimed;
  let fields: unknown;
  try {
    fields = JSON.parse(fingerprint);
  } catch {
    return undefined;
  }
  if (!Array.isArray(fields) || fields.length !== 10 || typeof fields[0] !== 'string' || typeof fields[1] !== 'number') return undefined;
  const [operation, invocationSequenceNumber, usedUnits, requestedUnits, lineId, msisdn, usageType, calledNumber, roamingCountry, visitedMcc] = fields as [string, number, ...(string | null)[]];
  const req: ChargingSessionRequest = { operation, sessionId, invocationSequenceNumber, usedUnits, requestedUnits, lineId, msisdn, usageType, calledNumber, roamingCountry, visitedMcc };
  return fingerprintOf(operation, invocationSequenceNumber, req) === fingerprint ? req : undefined;
}

async function rpc<T>(nc: NatsConnection, subject: string, body: unknown): Promise<T> {
  const reply = await nc.request(subject, JSON.stringify(body), { timeout: 3000 });
  return reply.json<T>();
}

/**
 * The session `sessionId` names for a caller whose sessions are in `space` (its partner's id, '' for the
 * platform's): its own session with that id or, stored before ids were per partner (ref null), one of
 * unknown opener (anyone's, as it was) and, for the platform, any (it acted on any session by id then;
 * before, ids were one space, so at most one such row has the id, and then no newer one in the spaces
 * that reach it: its RESERVE found it first).
 */
async function loadSession(usage: UsageRuntime, sessionId: string, space: string): Promise<StoredSession | undefined> {
  const { rows } = await usage.sql.query<StoredSession>(
    `select state, used::text as used, context, sequence_number, last_request, last_reply, updated_at, partner_id, opener_recorded, partner_key, ref from charging_session
      where id = $1 and (partner_key = $2 or (ref is null and ($2 = '' or not opener_recorded))) order by (partner_key = $2) desc limit 1`,
    [sessionId, space],
  );
  return rows[0];
}

/**
 * Answers one session request (NATS or GraphQL) from `caller` and counts it by operation and result code, and whether it
 * was a retransmission answered from the session's stored reply (`replayed`: not new traffic, nothing done again).
 */
export async function handleChargingSession(usage: UsageRuntime, nc: NatsConnection, req: ChargingSessionRequest, now: Date, caller: SessionCaller): Promise<ChargingSessionReply> {
  const op = String(req?.operation ?? '').toUpperCase();
  const operation = OPERATIONS.includes(op) ? op : 'INVALID';
  const answered = { replayed: false };
  try {
    const reply = await answerChargingSession(usage, nc, req, now, caller, answered);
    usage.metrics.sessionRequests.inc({ operation, result_code: reply.resultCode, replayed: String(answered.replayed) });
    return reply;
  } catch (error) {
    usage.metrics.sessionRequests.inc({ operation, result_code: 'ERROR', replayed: 'false' });
    throw error;
  }
}

async function answerChargingSession(usage: UsageRuntime, nc: NatsConnection, input: ChargingSessionRequest, now: Date, caller: SessionCaller, answered = { replayed: false }): Promise<ChargingSessionReply> {
  const fail = (resultCode: ChargingResultCode, message: string): ChargingSessionReply => ({ sessionId: typeof input?.sessionId === 'string' ? input.sessionId : '', resultCode, finalUnitIndication: true, message });
  // Over NATS an input error is a RATING_FAILED reply whose message names the field (GraphQL: BAD_USER_INPUT, in the resolver).
  const problem = sessionInputProblem(input, now, caller);
  if (problem) return fail('RATING_FAILED', problem.message);
  const op = String(input.operation).toUpperCase();
  const req = normalised(input, op);
  const n = req.invocationSequenceNumber ?? 0;
  // The caller's sessions: a partner's (its id) or the platform's ('').
  const space = caller.partnerId ?? '';
  const fingerprint = fingerprintOf(op, n, req);
  const lateFingerprint = LATE + fingerprint;
  const same = (s: StoredSession): boolean => s.last_request === fingerprint || s.last_request === lateFingerprint;
  /**
   * The answer of a session that is closed (TIMED_OUT or CLOSED) to a RESERVE or UPDATE it cannot serve: it holds
   * no reservation, so nothing is granted (RFC 6733's DIAMETER_UNKNOWN_SESSION_ID, 5002, which an RFC 4006 server
   * answers for a session it has released). A TIMED_OUT session still takes the units used, as a late report.
   */
  const closedAnswer = (s: StoredSession): ChargingSessionReply => ({
    sessionId: req.sessionId, resultCode: 'UNKNOWN_SESSION', grantedUnit: null, validityTime: null, finalUnitIndication: true,
    message: s.state === 'TIMED_OUT'
      ? `session ${req.sessionId} is TIMED_OUT: its reservation was released and nothing is granted; report the units used with invocationSequenceNumber ${s.sequence_number + 1} (charged as usage)`
      : `session ${req.sessionId} is ${s.state}: nothing is granted`,
  });
  /**
   * The answer to an UPDATE or TERMINATE for a session the caller has not (RFC 6733's DIAMETER_UNKNOWN_SESSION_ID):
   * nothing granted, nothing done. Another partner's session with the id is not the caller's: the same answer, so it
   * tells nothing of it.
   */
  const unknownSession = (): ChargingSessionReply => ({
    sessionId: req.sessionId, resultCode: 'UNKNOWN_SESSION', grantedUnit: null, validityTime: null, finalUnitIndication: true, message: `no session ${req.sessionId}`,
  });
  /**
   * The reply a session gave to this number, or why another request with it is refused. A reply that granted
   * units is not given again once the session is closed (the sweeper released that reservation): a retransmission
   * of the RESERVE or the last UPDATE of a TIMED_OUT session is told the session's state, with nothing granted.
   */
  const replay = (s: StoredSession): ChargingSessionReply => {
    if (same(s) && s.last_reply) {
      answered.replayed = true;
      const stored = JSON.parse(s.last_reply) as ChargingSessionReply;
      return s.state !== 'OPEN' && stored.grantedUnit != null ? closedAnswer(s) : stored;
    }
    return same(s) ? fail('RATING_FAILED', `invocationSequenceNumber ${n} of session ${req.sessionId} was not completed before the session was ${s.state}`)
      : fail('RATING_FAILED', `invocationSequenceNumber ${n} of session ${req.sessionId} was used by another request`);
  };
  // The caller's own session with this id (another partner's is not found: its ids are that partner's).
  const existing = await loadSession(usage, req.sessionId, space);
  // This number is claimed by this very request (same figures) and not answered yet: a twin of it is
  // running now, or an attempt stopped midway (crash, lost connection). Every step is idempotent: do them (again).
  // A claim made while the session was OPEN is resumed even if the sweeper closed the session since
  // (TIMED_OUT): its steps are redone and it ends as a late report (answerClosedUnder), so that what it
  // was granted is released and what it used is charged once, through the commit it made.
  const resuming = op !== 'RESERVE' && n === existing?.sequence_number && !existing.last_reply
    && (((existing.state === 'OPEN' || existing.state === 'TIMED_OUT') && existing.last_request === fingerprint) || (existing.state === 'TIMED_OUT' && existing.last_request === lateFingerprint));
  if (existing && n === existing.sequence_number && !resuming) return replay(existing);
  // Ended by its TERMINATE (whose retransmission is answered above): no request may reopen or report on it.
  if (existing?.state === 'CLOSED') return closedAnswer(existing);

  if (op === 'RESERVE') {
    if (existing) return existing.state === 'OPEN' ? fail('RATING_FAILED', `session ${req.sessionId} already exists; use UPDATE or TERMINATE`) : closedAnswer(existing);
    const probe = validateUsage(probeOf(req, now), { source: SOURCE }, now);
    if (!probe.ok) return fail('RATING_FAILED', `${probe.rejection.code}: ${probe.rejection.reason}`);
    const u = probe.usage;
    const base = { usageType: u.usageType, direction: u.direction, ...(u.calledNumber ? { calledNumber: u.calledNumber } : {}), ...(u.roamingCountry ? { roamingCountry: u.roamingCountry } : {}), ...(u.visitedMcc ? { visitedMcc: u.visitedMcc } : {}) };
    const rated = await rateUnits(usage, caller, { lineId: u.lineId, msisdn: u.msisdn }, base, { quantity: u.quantity, unit: u.unit }, now);
    if ('failed' in rated) return fail(...rated.failed);
    const { line, terms } = rated;
    const ctx: SessionContext = {
      lineId: line.lineId, msisdn: line.msisdn, usageType: u.usageType, ...terms.hold,
      reservationId: null, startedAt: now.toISOString(), event: { ...base, lineId: line.lineId },
    };
    // Named in the caller's space: wallets' request ids and the records' event ids are this session's, no other partner's.
    const named = sessionRef(space, req.sessionId);
    const grant = await reserveUnits(nc, named, `${named}#${n}`, ctx, terms.units);
    const { granted, reply } = await answerGrant(nc, req.sessionId, ctx, grant, dec('0'));
    const { rowCount } = await usage.sql.query(
      `insert into charging_session (id, line_id, billing_account_id, usage_type, state, granted, used, context, started_at, updated_at, sequence_number, last_request, last_reply, partner_id, opener_recorded, partner_key, ref)
       values ($1,$2,$3,$4,'OPEN',$5,0,$6,$7,$7,$8,$9,$10,$11,true,$12,$13) on conflict (partner_key, id) do nothing`,
      [req.sessionId, ctx.lineId, ctx.billingAccountId, ctx.usageType, granted ?? '0', JSON.stringify(ctx), now, n, fingerprint, JSON.stringify(reply), caller.partnerId, space, named],
    );
    // A twin of this request got there first (same reservation, by its request id): its reply.
    return rowCount === 1 ? reply : replayAfterRace(usage, { id: req.sessionId, space }, replay, fail);
  }

  if (!existing) return unknownSession();
  // The row found (its key: its id in its space) and the name its ids outside it derive from.
  const at: SessionName = { id: req.sessionId, space, key: existing.partner_key };
  const ref = refOf(existing, req.sessionId);
  const key = sessionRecordKey(ref);
  // What units past the grant are named by (wallets' request id, the record's event id) and what their unpaid rest names.
  const report: Report = { sessionId: req.sessionId, partnerId: existing.partner_key || existing.partner_id, ref, key, operation: op === 'TERMINATE' ? 'TERMINATE' : 'UPDATE', n };
  const ctx = JSON.parse(existing.context) as SessionContext;
  const used = dec(req.usedUnits ?? '0');
  if (existing.state === 'TIMED_OUT' && (n > existing.sequence_number || (resuming && existing.last_request === lateFingerprint))) {
    // Closed for silence (closeStaleSessions): what it reports now is charged as usage; nothing more is granted.
    // Its record is named by the number (`<session>#<n>:unreserved`), so the number is claimed first, as an OPEN
    // session's is: a retransmission gets this reply, another report with the number is refused and charges
    // nothing (its units would otherwise be dropped as a duplicate of the first's record, answered SUCCESS).
    if (!resuming) {
      // An unanswered claim (made while the session was OPEN, or a late report's own) is finished first.
      if (existing.last_request != null && !existing.last_reply) return finishBeforeTakeover(usage, nc, existing, input, now, caller, fail, answered);
      const { rowCount } = await usage.sql.query(
        `update charging_session set sequence_number = $2, last_request = $3, last_reply = null, updated_at = $4 where id = $1 and sequence_number = $5 and state = 'TIMED_OUT' and partner_key = $6`,
        [req.sessionId, n, lateFingerprint, now, existing.sequence_number, at.key],
      );
      if (rowCount !== 1) return answerChargingSession(usage, nc, input, now, caller, answered);
    }
    // The report's time is when its number was claimed, the same for a twin or a retry that resumes it: the same record.
    // Its units are the call's after those reported before (the session's total moves on with the reply, so a retry rates them alike).
    const past = await chargePastGrant(usage, nc, report, ctx, used, resuming ? new Date(existing.updated_at) : now, dec(existing.used));
    // Wallets refused the commit of what it held for them: the claim stays unanswered, its retry does it again.
    if ('failed' in past) return fail(past.failed.resultCode, past.failed.error?.message ?? 'commit failed');
    const reply: ChargingSessionReply = { sessionId: req.sessionId, resultCode: 'SUCCESS', finalUnitIndication: true, ...(past.unpaid ? unpaidReply(past.unpaid) : {}) };
    const { rowCount } = await usage.sql.query(
      `update charging_session set last_reply = $2, used = $5 where id = $1 and sequence_number = $3 and last_request = $4 and last_reply is null and state = 'TIMED_OUT' and partner_key = $6`,
      [req.sessionId, JSON.stringify(reply), n, lateFingerprint, dec(existing.used).plus(used).toFixed(), at.key],
    );
    return rowCount === 1 ? reply : replayAfterRace(usage, at, replay, fail);
  }
  if (!resuming) {
    if (n !== existing.sequence_number + 1) return fail('RATING_FAILED', `invocationSequenceNumber ${n} is out of turn: session ${req.sessionId} expects ${existing.sequence_number + 1}`);
    if (existing.state !== 'OPEN') return fail('RATING_FAILED', `session ${req.sessionId} is ${existing.state}`);
    if (existing.last_request != null && !existing.last_reply) return fail('RATING_FAILED', `invocationSequenceNumber ${existing.sequence_number} of session ${req.sessionId} is not answered yet`);
    // Claim the number before any effect: of two different requests with it, the one refused changes nothing.
    const { rowCount } = await usage.sql.query(
      `update charging_session set sequence_number = $2, last_request = $3, last_reply = null, updated_at = $4 where id = $1 and sequence_number = $5 and state = 'OPEN' and partner_key = $6`,
      [req.sessionId, n, fingerprint, now, existing.sequence_number, at.key],
    );
    // Another request got there first: answered as it stands now (a twin of this one joins it).
    if (rowCount !== 1) return answerChargingSession(usage, nc, input, now, caller, answered);
  }
  // The units the session reported before this one: the call's running total, which the tariff's increments apply to.
  const before = dec(existing.used);
  const part = chargedPart(ctx, before, used);
  // Rated as the session's records of the interval are: where the last report left the session (its location, its time).
  const commit = await commitUsed(nc, ctx, part.units, part.units.gt(0) ? await partPricePerUnit(usage, ctx, part.covered, before, new Date(ctx.reportedAt ?? ctx.startedAt)) : undefined);
  if ('failed' in commit) {
    // Wallets refused the commit, so nothing was charged: the number is given back, the session is as before the request.
    if (!resuming) {
      await usage.sql.query(
        `update charging_session set sequence_number = $2, last_request = $3, last_reply = $4 where id = $1 and sequence_number = $5 and last_request = $6 and last_reply is null and partner_key = $7`,
        [req.sessionId, existing.sequence_number, existing.last_request, existing.last_reply, n, fingerprint, at.key],
      );
    }
    return fail(commit.failed.resultCode, commit.failed.error?.message ?? 'commit failed');
  }
  // The units the reservation covered (what it charged, or what the call had paid for already): this report's
  // record (the closing one at TERMINATE, kept even when empty); the rest is charged as usage, after them in the call.
  const covered = coveredPart(ctx, before, part, commit);
  const recordId = op === 'TERMINATE' || covered.gt(0) ? await recordCommitted(usage, op === 'TERMINATE' ? key : `${key}#${n}`, ctx, covered, before, commit) : undefined;
  const unreserved = used.minus(covered);
  // The report's time is when its number was claimed, the same for a retry that resumes it: its records are the same records.
  const reportedAt = resuming ? new Date(existing.updated_at) : now;
  const past = await chargePastGrant(usage, nc, report, ctx, unreserved, reportedAt, before.plus(covered));
  // Wallets refused the commit of what it held for them (the report's own commit is done): the claim stays unanswered, its retry resumes it.
  if ('failed' in past) return fail(past.failed.resultCode, past.failed.error?.message ?? 'commit failed');
  ctx.reportedAt = reportedAt.toISOString();
  // The units this report used were used where the session was (its records above); those it asks for, and the session's
  // records from here on, are where it says the subscriber is now (before, an UPDATE's location was ignored: a session
  // that went on abroad was held and charged at home, and one that came home at the roaming price).
  const moved = op === 'UPDATE' ? locationOf(req, now) : {};
  if ('location' in moved && moved.location) {
    const event = { ...ctx.event, ...moved.location };
    for (const field of ['roamingCountry', 'visitedMcc'] as const) if (!(field in moved.location)) delete event[field];
    ctx.event = event;
  }
  const totalUsed = before.plus(used);
  let reply: ChargingSessionReply;
  let granted = '0';
  // Nothing held from here unless granted below: the session covers what it paid for.
  ctx.reservationId = null;
  ctx.coveredUpTo = coveredTotal(ctx, '0', totalUsed);
  if (op === 'UPDATE' && past.unpaid) {
    // The balance could not pay for what was used: nothing more is granted (RFC 4006 DIAMETER_CREDIT_LIMIT_REACHED, a
    // final unit indication), so the network ends the session; a top-up before its next UPDATE is granted as usual.
    reply = { sessionId: req.sessionId, resultCode: 'QUOTA_LIMIT_REACHED', grantedUnit: null, validityTime: null, finalUnitIndication: true, ...unpaidReply(past.unpaid) };
  } else if (op === 'UPDATE') {
    const requested = dec(req.requestedUnits ?? '0');
    // More units are rated again now: the plan, add-ons and line status in force now, not at the RESERVE; as the
    // call's units after those used so far (what they add to its chargeable units is what is held).
    const rated = requested.gt(0) ? await rateUnits(usage, caller, { lineId: ctx.lineId }, ctx.event, { quantity: requested.toFixed(), unit: ctx.unit }, now, ctx.increments === undefined ? undefined : totalUsed) : undefined;
    if (rated && 'failed' in rated) {
      // Suspended (or ended) since the session began: what was used is charged above, nothing more is granted.
      reply = fail(...rated.failed);
    } else {
      // A context from before increments applied online stays as it was (charged the units used).
      if (rated) Object.assign(ctx, rated.terms.hold, ctx.increments === undefined ? { increments: undefined } : {});
      // Units the call has paid for already need no reservation (a 10 s call on `first: 60` may go on to 60 s).
      const paidFor = rated !== undefined && ctx.increments !== undefined && dec(rated.terms.units).isZero();
      const grant = rated && !paidFor ? await reserveUnits(nc, ref, `${ref}#${n}`, ctx, rated.terms.units) : ({ resultCode: 'SUCCESS' } as WalletReserveReply);
      const answer = rated ? await answerGrant(nc, req.sessionId, ctx, grant, totalUsed) : { granted: null, reply: replyOf(req.sessionId, grant, null) };
      granted = answer.granted ?? '0';
      reply = answer.reply;
    }
  } else {
    reply = { sessionId: req.sessionId, resultCode: 'SUCCESS', finalUnitIndication: true, usageRecordId: recordId, ...(past.unpaid ? unpaidReply(past.unpaid) : {}) };
  }
  const { rowCount } = await usage.sql.query(
    `update charging_session set state = $2, used = $3, granted = $4, context = $5, last_reply = $6, updated_at = $7
     where id = $1 and sequence_number = $8 and last_request = $9 and last_reply is null and state = 'OPEN' and partner_key = $10`,
    [req.sessionId, op === 'TERMINATE' ? 'CLOSED' : 'OPEN', totalUsed.toFixed(), granted, JSON.stringify(ctx), JSON.stringify(reply), now, n, fingerprint, at.key],
  );
  if (rowCount === 1) return reply;
  // Not OPEN any more: the sweeper closed the session while this request held its number (or before a retry of it).
  const late: ChargingSessionReply = op === 'UPDATE' && reply.resultCode === 'SUCCESS' ? { sessionId: req.sessionId, resultCode: 'SUCCESS', finalUnitIndication: true } : reply;
  return answerClosedUnder(usage, nc, { ...at, n, fingerprint }, ctx, totalUsed, late, replay, fail);
}

/**
 * A late report found its number's predecessor n claimed while the session was OPEN and never
 * answered: n's attempt crashed between wallets' grant and the session write, or is still running,
 * when the sweeper closed the session. Taking the number over from that claim would leave the
 * reservation n was granted (`<session>#<n>`, which the sweeper does not know) held until wallets'
 * expiry, and nobody would finish n afterwards (its retry is out of turn from then on, its write
 * fails). So n is finished first, as its retry would finish it: its request is read back from the
 * claim's fingerprint, its steps redone (the commit answered with the first one's figures, the
 * reservation found again by its request id) and it ends as a late report (answerClosedUnder: that
 * reservation released, n's reply stored). Then the report is answered against the session as it
 * is now, claiming its own number from n's. If n could not be finished (wallets refused, or failed),
 * the report is refused too and takes nothing over: the network element's retry finishes n then.
 * A late report's own unanswered claim (it crashed before its reply was stored) is finished the
 * same way: its units charged as usage once, its reply stored; refusing the reports after it
 * blocked the session, and what they reported was never charged.
 */
async function finishBeforeTakeover(
  usage: UsageRuntime, nc: NatsConnection, claimed: StoredSession, input: ChargingSessionRequest, now: Date, caller: SessionCaller, fail: (code: ChargingResultCode, message: string) => ChargingSessionReply,
  answered: { replayed: boolean },
): Promise<ChargingSessionReply> {
  const earlier = requestOfFingerprint(input.sessionId, claimed.last_request!);
  // Finished on behalf of the session's own network element: `caller` may act on the session (checked before).
  const finished = earlier ? await answerChargingSession(usage, nc, earlier, now, caller) : undefined;
  const after = await loadSession(usage, input.sessionId, caller.partnerId ?? '');
  if (after && after.sequence_number === claimed.sequence_number && after.last_request === claimed.last_request && !after.last_reply) {
    return fail('RATING_FAILED', `invocationSequenceNumber ${claimed.sequence_number} of session ${input.sessionId} is not answered yet${finished?.message ? ` (${finished.message})` : ''}`);
  }
  return answerChargingSession(usage, nc, input, now, caller, answered);
}

/**
 * The end of a request whose session the sweeper closed (TIMED_OUT) while the request held its
 * number unanswered: it ends as a late report. What it used was charged already (its commit, the
 * units past it as usage); the reservation it was granted or found (`ctx.reservationId`, by its
 * request id `<session>#<n>`: a retry after a crash gets the crashed attempt's) is released, since
 * nobody would commit it and wallets would hold it until its expiry; the reply (nothing granted) is
 * stored for retransmissions. Released before the reply is stored: a crash in between leaves the
 * claim unanswered, and the retry does it again.
 */
async function answerClosedUnder(
  usage: UsageRuntime, nc: NatsConnection, claim: SessionName & { n: number; fingerprint: string }, ctx: SessionContext, totalUsed: Decimal, reply: ChargingSessionReply,
  replay: (s: StoredSession) => ChargingSessionReply, fail: (code: ChargingResultCode, message: string) => ChargingSessionReply,
): Promise<ChargingSessionReply> {
  const s = await loadSession(usage, claim.id, claim.space);
  if (!s) return fail('RATING_FAILED', `session ${claim.id} could not be stored`);
  if (s.state === 'TIMED_OUT' && s.sequence_number > claim.n) {
    // A later report took the session on past this number while this attempt ran (it finished this number first,
    // finishBeforeTakeover). What this attempt was granted is released here unless the session names it (then it
    // is the session's to release): the finishing may have rated otherwise (a suspension, a plan change in between)
    // and not have found it, and nobody else knows it. Releasing what the finishing released is answered the same.
    if (ctx.reservationId && (JSON.parse(s.context) as SessionContext).reservationId !== ctx.reservationId) {
      const release = await commitUsed(nc, ctx, dec('0'));
      if ('failed' in release) return fail(release.failed.resultCode, `session ${claim.id} is TIMED_OUT; releasing reservation ${ctx.reservationId} failed: ${release.failed.error?.message ?? release.failed.resultCode}`);
    }
    return fail('RATING_FAILED', `invocationSequenceNumber ${claim.n} of session ${claim.id} was taken over by a later report (${s.sequence_number}); the session is TIMED_OUT`);
  }
  if (s.state !== 'TIMED_OUT' || s.sequence_number !== claim.n || s.last_request !== claim.fingerprint || s.last_reply) return replay(s);
  if (ctx.reservationId) {
    const release = await commitUsed(nc, ctx, dec('0'));
    if ('failed' in release) return fail(release.failed.resultCode, `session ${claim.id} is TIMED_OUT; releasing reservation ${ctx.reservationId} failed: ${release.failed.error?.message ?? release.failed.resultCode}`);
  }
  const { rowCount } = await usage.sql.query(
    `update charging_session set used = $2, context = $3, last_reply = $4 where id = $1 and sequence_number = $5 and last_request = $6 and last_reply is null and state = 'TIMED_OUT' and partner_key = $7`,
    [claim.id, totalUsed.toFixed(), JSON.stringify({ ...ctx, reservationId: null }), JSON.stringify(reply), claim.n, claim.fingerprint, claim.key],
  );
  return rowCount === 1 ? reply : replayAfterRace(usage, claim, replay, fail);
}

/**
 * Closes an OPEN session that has not reported since `idleMs` before `now` (its network element
 * is gone, or lost the session): it is TIMED_OUT and its reservation released (what it reported is
 * on its records already). A report that still comes later is charged as usage, once per number
 * (see above). Returns how many it closed.
 *
 * The session is claimed first, then its reservation released: one conditional update moves it to
 * TIMED_OUT only if it is still OPEN and still silent, and returns the context it holds then. A
 * report that claimed its number or was answered since the sessions were read moved `updated_at`
 * on, so the session is left OPEN and the reservation that report uses or was just granted is not
 * touched; one that comes after the claim finds the session TIMED_OUT (its own claim, from OPEN,
 * fails) and is charged as usage with nothing granted. After the claim nothing but this writes the
 * context (every report's write needs OPEN), so the reservation released is the one the session
 * held at its close, and no report commits it. (Before, the sessions were read, the reservation
 * in the row read again was released, and the session closed if its number had not moved: a report
 * answered in between had the reservation it was just granted released and its session closed.)
 * A crash between the claim and the release leaves that reservation to wallets' expiry job (it
 * holds units for its validity only, 300 s as usage asks for them, far less than `idleMs`).
 */
export async function closeStaleSessions(usage: UsageRuntime, nc: NatsConnection, now: Date, idleMs: number, limit = 100): Promise<number> {
  const silentSince = new Date(now.getTime() - idleMs);
  const { rows } = await usage.sql.query<{ id: string; partner_key: string }>(`select id, partner_key from charging_session where state = 'OPEN' and updated_at <= $1 order by updated_at limit $2`, [silentSince, limit]);
  let closed = 0;
  // A session is (partner_key, id): two partners' sessions with one id are two sessions, each closed on its own.
  for (const { id, partner_key: key } of rows) {
    // A number claimed and not answered (a request cut short, or still running) keeps its claim time
    // and the reservation it commits: its retry ends as a late report (answerClosedUnder) and commits
    // on that reservation (wallets answers what was committed, or that this release came first), so
    // its units are charged once either way, and it releases what it was granted itself.
    const { rows: [claimed] } = await usage.sql.query<{ context: string; pending: boolean }>(
      `update charging_session set state = 'TIMED_OUT', granted = 0, updated_at = case when last_request is not null and last_reply is null then updated_at else $3 end
       where id = $1 and state = 'OPEN' and updated_at <= $2 and partner_key = $4 returning context, (last_request is not null and last_reply is null) as pending`,
      [id, silentSince, now, key],
    );
    if (!claimed) continue;
    closed += 1;
    const ctx = JSON.parse(claimed.context) as SessionContext;
    if (!ctx.reservationId) continue;
    const release = await commitUsed(nc, ctx, dec('0')).catch((error: Error) => ({ failed: { resultCode: 'RATING_FAILED', error: { message: error.message } } as WalletSessionReply }));
    if ('failed' in release) throw new Error(`session ${id} is TIMED_OUT; releasing its reservation ${ctx.reservationId} failed (wallets' expiry job will): ${release.failed.error?.message ?? release.failed.resultCode}`);
    if (!claimed.pending) await usage.sql.query(`update charging_session set context = $2 where id = $1 and state = 'TIMED_OUT' and context = $3 and partner_key = $4`, [id, JSON.stringify({ ...ctx, reservationId: null }), claimed.context, key]);
  }
  return closed;
}

interface Committed {
  /** How many units the reservation charged (none when it had expired or none was held). */
  units: Decimal;
  amountCharged: string;
  unitsFromAllowances: string;
  /** Whether wallets committed on a reservation (false: none was held, or it had expired). */
  held: boolean;
}

/**
 * Commits `units` (chargeable units) on the session's reservation, at `pricePerUnit` when given (partPricePerUnit; else
 * the reservation's). A repeated commit is answered with the first one's figures.
 */
async function commitUsed(nc: NatsConnection, ctx: SessionContext, units: Decimal, pricePerUnit?: string): Promise<Committed | { failed: WalletSessionReply }> {
  const none = { units: dec('0'), amountCharged: '0', unitsFromAllowances: '0', held: false };
  if (!ctx.reservationId) return none;
  const request: WalletCommitRequest = { reservationId: ctx.reservationId, usedUnits: units.toFixed(), ...(pricePerUnit !== undefined && units.gt(0) ? { pricePerUnit } : {}) };
  const commit = await rpc<WalletSessionReply>(nc, RPC.walletCommit, request);
  if (commit.resultCode !== 'SUCCESS') return { failed: commit };
  if (commit.status !== 'COMMITTED') return none;
  return { units: dec(commit.usedUnits ?? '0'), amountCharged: commit.amountCharged ?? '0', unitsFromAllowances: commit.unitsFromAllowances ?? '0', held: true };
}

/**
 * The session is one call: the tariff's increments (a 60 s minimum, per started minute, …) apply
 * to its running total, as offline rating applies them to one CDR of the same total, through the
 * rating engine's own rounding (partChargeableUnits, callTotalCovered; rating rates a record with
 * `precedingQuantity` alike). A report of `used` units after `before` units charges what it adds
 * to the call's chargeable units, so the reports add up to the call as one CDR, never counting a
 * unit twice. Of the used units, those up to `ctx.coveredUpTo` are charged within the reservation
 * (`covered`, whose chargeable `units` are committed), the rest as usage after them.
 * A context from before this (no `increments`) commits the units used, as it did.
 */
interface Part {
  covered: Decimal;
  units: Decimal;
}

function chargedPart(ctx: SessionContext, before: Decimal, used: Decimal): Part {
  if (ctx.increments === undefined) return { covered: used, units: used };
  const room = dec(ctx.coveredUpTo ?? before.toFixed()).minus(before);
  const covered = room.lte(0) ? dec('0') : used.lt(room) ? used : room;
  return { covered, units: dec(partChargeableUnits(covered.toFixed(), before.toFixed(), ctx.increments)) };
}

/** Of a part, the units the reservation did cover (wallets' answer): the units of the report's record; the rest is charged as usage. */
function coveredPart(ctx: SessionContext, before: Decimal, part: Part, commit: Committed): Decimal {
  if (ctx.increments === undefined) return commit.units;
  // Paid for by the call's earlier reports: nothing to commit.
  if (part.units.isZero()) return part.covered;
  // The reservation had expired (or none was held): every unit is charged as usage.
  if (!commit.held) return dec('0');
  if (commit.units.gte(part.units)) return part.covered;
  // Wallets committed fewer units than asked (not expected: the part is within what it granted): the units those cover.
  const room = dec(callTotalCovered(commit.units.toFixed(), before.toFixed(), ctx.increments)).minus(before);
  return room.lte(0) ? dec('0') : part.covered.lt(room) ? part.covered : room;
}

/**
 * The price per unit of `units` used after `before` (the call's units so far), rated `at` as the session's record of them
 * is (rateUnits: the plan then, the units as the call's after `before`), for a session whose held price is not the flat
 * one (pricedByPart): a reservation is held at the rated price of the units asked for over those units, which spreads a
 * fixed amount (a connection fee, a call credit: once per call) over them, so a call that used fewer units than it asked
 * for paid only a share of its fee (300 s asked, 60 s used: a fifth of it). Undefined (the held price): a flat price,
 * nothing used, or the rating refused now (as before).
 */
async function partPricePerUnit(usage: UsageRuntime, ctx: SessionContext, units: Decimal, before: Decimal, at: Date): Promise<string | undefined> {
  if (ctx.pricedByPart !== true || !units.gt(0)) return undefined;
  const rated = await rateUnits(usage, PLATFORM, { lineId: ctx.lineId }, ctx.event, { quantity: units.toFixed(), unit: ctx.unit }, at, ctx.increments === undefined ? undefined : before);
  return 'failed' in rated ? undefined : rated.terms.hold.pricePerUnit;
}

/** The session's total covered by `held` chargeable units held after `total` units used (callTotalCovered); undefined for a context from before increments applied online. */
function coveredTotal(ctx: SessionContext, held: string, total: Decimal): string | undefined {
  return ctx.increments === undefined ? undefined : callTotalCovered(held, total.toFixed(), ctx.increments);
}

/**
 * After a reserve (or none, for units the call paid for already): the session holds `grant`'s
 * reservation and covers the call up to what that grants with what the call paid for. Returns the
 * units granted to the network, null when wallets granted nothing: those from `total` (the units
 * used so far) up to the covered total, every one of them charged within the reservation (wallets
 * grants chargeable units; a grant off the increments' grid is cut to it). A context from before
 * increments applied online is granted wallets' units, as before.
 */
function holdGranted(ctx: SessionContext, grant: WalletReserveReply, total: Decimal): string | null {
  ctx.reservationId = grant.reservationId ?? null;
  const success = grant.resultCode === 'SUCCESS';
  ctx.coveredUpTo = coveredTotal(ctx, success ? grant.grantedUnit?.units ?? '0' : '0', total);
  if (!success) return null;
  if (ctx.coveredUpTo === undefined) return grant.grantedUnit?.units ?? null;
  return dec(ctx.coveredUpTo).minus(total).toFixed();
}

/**
 * The answer to a reserve (holdGranted), and the reply to the network. A grant the tariff's increments cut
 * to nothing - the balance (or allowance) left pays for fewer units than the call's next chargeable
 * increment, e.g. 30 s of a `first: 60` minute - grants the network nothing: it is QUOTA_LIMIT_REACHED
 * (RFC 4006 DIAMETER_CREDIT_LIMIT_REACHED), with a final unit indication, so the call is refused or ended;
 * a SUCCESS with 0 units told the network it could go on. What wallets held for it is released at once (no
 * unit of it could be charged within it). Released by its request's reservation id: a retry after a crash
 * gets the same reservation from wallets and releases it again, which wallets answers as done. If the
 * release fails the session keeps naming the reservation, so its TERMINATE (committing nothing on it) or
 * the idle sweeper releases it, as any reservation it holds; the reply is the same.
 */
async function answerGrant(nc: NatsConnection, sessionId: string, ctx: SessionContext, grant: WalletReserveReply, total: Decimal): Promise<{ granted: string | null; reply: ChargingSessionReply }> {
  const granted = holdGranted(ctx, grant, total);
  if (grant.resultCode !== 'SUCCESS' || granted === null || dec(granted).gt(0)) return { granted, reply: replyOf(sessionId, grant, granted) };
  if (ctx.reservationId) {
    const reservationId = ctx.reservationId;
    const released = await rpc<WalletSessionReply>(nc, RPC.walletRelease, { reservationId } satisfies WalletReleaseRequest).catch(() => undefined);
    if (released?.resultCode === 'SUCCESS') ctx.reservationId = null;
  }
  const which = total.isZero() ? 'first' : 'next';
  const increment = dec((total.isZero() ? ctx.increments?.first : ctx.increments?.next) ?? '1').toFixed();
  const paysFor = dec(grant.grantedUnit?.units ?? '0').toFixed();
  const message = `the balance does not cover the call's ${which} chargeable increment (${increment} ${ctx.unit}); it pays for ${paysFor} ${ctx.unit}`;
  return { granted: null, reply: { sessionId, resultCode: 'QUOTA_LIMIT_REACHED', grantedUnit: null, validityTime: null, finalUnitIndication: true, message } };
}

/** A session record's place in the call: the units reported before it (rating's precedingQuantity), none for its first units or a context from before increments applied online. */
function partOf(ctx: SessionContext, before: Decimal): { precedingQuantity?: string } {
  return ctx.increments !== undefined && before.gt(0) ? { precedingQuantity: before.toFixed() } : {};
}

/** Which report units past the grant came with: for their wallets request and record ids, and what the unpaid rest names. */
interface Report {
  sessionId: string;
  partnerId: string | null;
  /** The session's ref (sessionRef) and its record key (sessionRecordKey of it). */
  ref: string;
  key: string;
  operation: 'UPDATE' | 'TERMINATE';
  n: number;
}

/** What a prepaid session's units past its grant left unpaid (nothing when the balance paid them all, or the line is postpaid). */
interface PastGrant {
  unpaid?: { amount: string; currency: string; paidUnits: string; chargeableUnits: string; unit: string; reason: string };
}

/**
 * Units used but not charged through a reservation (the network went past its grant, the reservation had expired,
 * or none was held; 3GPP Gy / Ro accepts such a report): a record of their own (`<session>#<n>:unreserved`), rated as
 * the call's units after `before`, reported `at`. A refusal is a REJECTED record, kept and counted.
 *
 * A POSTPAID line's are charged as usage (a ChargeRequest): billed, within the account's credit as any usage.
 * A PREPAID line's are charged here, before the report is answered and before anything more is reserved: as a
 * ChargeRequest they reached wallets after the same UPDATE had held its next grant from the balance they should
 * have paid from, so the network was granted more while what it had used went unpaid (wallets cut the late charge
 * to PARTIAL or DENIED it), and nothing said so. They are held in wallets at the session's terms (its price,
 * allowances and overdraft, request id `<ref>#<n>:unreserved`) and the units held committed at once: wallets grants
 * allowance units first, then what the money left pays for, never below the wallet's floor (overdraft only where
 * the plan allows it). What that could not pay is recorded with the record (overageOf, written by the pipeline: its unpaid_amount and
 * PARTIAL / DENIED outcome, its rating trace's `overage`, the usageSessionOverageUnpaid event, the metric) and
 * answered (the caller ends the session's grants). The request id and the figures come from the stored session,
 * so a retry holds and commits nothing twice (wallets answers a repeated commit with the first one's figures).
 */
async function chargePastGrant(usage: UsageRuntime, nc: NatsConnection, report: Report, ctx: SessionContext, units: Decimal, at: Date, before: Decimal): Promise<PastGrant | { failed: WalletSessionReply }> {
  if (!units.gt(0)) return {};
  const eventId = `${report.key}#${report.n}:unreserved`;
  const raw = { ...ctx.event, source: SOURCE, eventId, lineId: ctx.lineId, quantity: units.toFixed(), ...partOf(ctx, before), occurredAt: at.toISOString() };
  if ((await paymentModeOf(usage, ctx, at)) !== 'PREPAID') {
    await usage.pipeline.process([{ raw, source: SOURCE, internal: true }]);
    return {};
  }
  const chargeable = ctx.increments === undefined ? units : dec(partChargeableUnits(units.toFixed(), before.toFixed(), ctx.increments));
  const paid = chargeable.gt(0) ? await holdAndCommit(nc, `${report.ref}#${report.n}:unreserved`, report.ref, ctx, chargeable) : { units: dec('0'), amountCharged: '0', unitsFromAllowances: '0' };
  if ('failed' in paid) return paid;
  const unpaidUnits = chargeable.minus(paid.units);
  const unpaid = unpaidUnits.gt(0) ? overageOf(report, ctx, units, chargeable, paid, unpaidUnits) : undefined;
  const [outcome] = await usage.pipeline.process([{ raw, source: SOURCE, internal: true, precharged: { amountCharged: paid.amountCharged, unitsFromAllowances: paid.unitsFromAllowances, ...(unpaid ? { unpaid } : {}) } }]);
  if (!unpaid) return {};
  // Counted once, by the attempt that stored the record (a retry finds it stored).
  if (!outcome.duplicate) usage.metrics.sessionOverageUnpaid.inc({ usage_type: ctx.usageType, currency: ctx.currency });
  return { unpaid: { amount: unpaid.unpaidAmount, currency: ctx.currency, paidUnits: paid.units.toFixed(), chargeableUnits: chargeable.toFixed(), unit: ctx.unit, reason: unpaid.reason } };
}

/** What the ledger paid of units past the grant: the units, money and allowance units committed (none when wallets held nothing). */
interface Paid {
  units: Decimal;
  amountCharged: string;
  unitsFromAllowances: string;
  /** Why wallets held less than asked (its refusal's code; WALLET_INSUFFICIENT_BALANCE for a partial hold). */
  shortBy?: string;
}

/** Holds `units` at the session's terms and commits every unit held (see chargePastGrant). */
async function holdAndCommit(nc: NatsConnection, requestId: string, ref: string, ctx: SessionContext, units: Decimal): Promise<Paid | { failed: WalletSessionReply }> {
  const grant = await reserveUnits(nc, ref, requestId, ctx, units.toFixed());
  if (grant.resultCode !== 'SUCCESS' || !grant.reservationId) return { units: dec('0'), amountCharged: '0', unitsFromAllowances: '0', shortBy: grant.error?.code ?? grant.resultCode };
  const held = dec(grant.grantedUnit?.units ?? '0');
  const commit = await rpc<WalletSessionReply>(nc, RPC.walletCommit, { reservationId: grant.reservationId, usedUnits: held.toFixed() } satisfies WalletCommitRequest);
  if (commit.resultCode !== 'SUCCESS') return { failed: commit };
  // Committed at once: it cannot have expired; a status other than COMMITTED (a release or expiry first) charged nothing.
  const committed = commit.status === 'COMMITTED' ? dec(commit.usedUnits ?? '0') : dec('0');
  return {
    units: committed, amountCharged: commit.status === 'COMMITTED' ? commit.amountCharged ?? '0' : '0', unitsFromAllowances: commit.status === 'COMMITTED' ? commit.unitsFromAllowances ?? '0' : '0',
    ...(committed.lt(units) ? { shortBy: 'WALLET_INSUFFICIENT_BALANCE' } : {}),
  };
}

/** The unpaid rest of units past the grant, as the record, its trace and the event keep it: priced at the session's price per unit. */
function overageOf(report: Report, ctx: SessionContext, units: Decimal, chargeable: Decimal, paid: Paid, unpaidUnits: Decimal): UnpaidOverage {
  const unpaidAmount = unpaidUnits.times(ctx.pricePerUnit).toDecimalPlaces(6, Decimal.ROUND_HALF_EVEN);
  const reason = paid.shortBy ?? 'WALLET_INSUFFICIENT_BALANCE';
  const figures = {
    sessionId: report.sessionId, operation: report.operation, invocationSequenceNumber: report.n, unit: ctx.unit,
    unitsPastGrant: units.toFixed(), chargeableUnits: chargeable.toFixed(), paidUnits: paid.units.toFixed(), unpaidUnits: unpaidUnits.toFixed(),
    amountCharged: dec(paid.amountCharged).toFixed(), unpaidAmount: unpaidAmount.toFixed(), currency: ctx.currency, reason,
  };
  const paidAny = paid.units.gt(0);
  return {
    unpaidAmount: unpaidAmount.toFixed(), outcome: paidAny ? 'PARTIAL' : 'DENIED', reason, paidUnits: paid.units.toFixed(), trace: figures,
    event: { ...figures, partnerId: report.partnerId, billingAccountId: ctx.billingAccountId, lineId: ctx.lineId, usageType: ctx.usageType } satisfies Omit<UsageOverageUnpaidData, 'usageRecordId'>,
  };
}

/** The line's payment mode: the session's (held with its terms), or for a context stored before it was kept, the line's subscription's at `at`. */
async function paymentModeOf(usage: UsageRuntime, ctx: SessionContext, at: Date): Promise<string | undefined> {
  if (ctx.paymentMode) return ctx.paymentMode;
  await usage.directory.prefetch([ctx.lineId], []);
  const line = usage.directory.get(ctx.lineId, undefined);
  return line ? versionAt(line, at)?.paymentMode : undefined;
}

/** The network's answer names what units past the grant left unpaid (chargePastGrant): in words and as an amount. */
function unpaidReply(unpaid: NonNullable<PastGrant['unpaid']>): Pick<ChargingSessionReply, 'message' | 'unpaidAmount'> {
  return {
    message: `units used past the grant: the balance paid ${unpaid.paidUnits} of ${unpaid.chargeableUnits} ${unpaid.unit}; ${unpaid.amount} ${unpaid.currency} unpaid (${unpaid.reason})`,
    unpaidAmount: { amount: unpaid.amount, currency: unpaid.currency },
  };
}

/**
 * What a commit charged becomes a usage record of the interval since the last report (live usage
 * and thresholds follow the session as it goes): the `units` used it covered, rated as the call's
 * units after `before` (so its charged units are those committed), charged already: it carries the money and
 * allowance units the commit took, as a ChargeResult would (written with the record; where they
 * differ from the rating's estimate the pipeline reloads the live counters). A record stored
 * REJECTED (rated at the previous report's time: the line or its subscription not known then, a
 * plan version not published yet, …) keeps them too (charge_status APPLIED), so a reprocess after
 * the fix rates it as charged and never sends wallets a second charge for it.
 */
async function recordCommitted(usage: UsageRuntime, eventId: string, ctx: SessionContext, units: Decimal, before: Decimal, commit: Committed): Promise<string> {
  const precharged = { amountCharged: commit.amountCharged, unitsFromAllowances: commit.unitsFromAllowances };
  const [outcome] = await usage.pipeline.process([{ raw: { ...ctx.event, source: SOURCE, eventId, lineId: ctx.lineId, quantity: units.toFixed(), ...partOf(ctx, before), occurredAt: ctx.reportedAt ?? ctx.startedAt }, source: SOURCE, internal: true, precharged }]);
  return outcome.id;
}

/** After losing a race for a session's next number: the winner's reply when it was the same request. */
async function replayAfterRace(usage: UsageRuntime, name: Pick<SessionName, 'id' | 'space'>, replay: (s: StoredSession) => ChargingSessionReply, fail: (code: ChargingResultCode, message: string) => ChargingSessionReply): Promise<ChargingSessionReply> {
  const now = await loadSession(usage, name.id, name.space);
  return now ? replay(now) : fail('RATING_FAILED', `session ${name.id} could not be stored`);
}

/** What units are held on: the line's plan in force at the time, priced per unit, its allowances and increments, how many units it charges. */
interface HoldTerms {
  hold: Pick<SessionContext, 'billingAccountId' | 'unit' | 'currency' | 'pricePerUnit' | 'pricedByPart' | 'allowanceIds' | 'allowOverdraft' | 'paymentMode' | 'zone' | 'increments'>;
  units: string;
}

/**
 * Rates `units` of the session's service at `now` with the catalog's rating engine, as a usage
 * event of that moment would be: the plan version, add-ons and line status in force then, and the
 * period's usage before it (UsagePipeline.rateAsNext: a period-graduated price at the tier the period
 * has reached, allowance ratios, spend). A line that may not use the service is END_USER_SERVICE_DENIED.
 * `preceding`: the session's units used so far: the units are rated as the call's units after them
 * (the chargeable units they add under the tariff's increments, none when the call paid for them already).
 * A partner's own request (chargesOwnCustomersOnly) for a line whose account at `now` is not assigned to it is
 * answered USER_UNKNOWN exactly as a line usage does not know, before anything else is looked at (its plan, its
 * status): nothing is reserved, and the answer tells nothing of the line.
 */
async function rateUnits(usage: UsageRuntime, caller: SessionCaller, who: { lineId?: string; msisdn?: string }, base: Record<string, unknown>, units: { quantity: string; unit: string }, now: Date, preceding?: Decimal): Promise<{ line: LineInfo; terms: HoldTerms } | { failed: [ChargingResultCode, string] }> {
  await usage.directory.prefetch(who.lineId ? [who.lineId] : [], who.msisdn && !who.lineId ? [who.msisdn] : []);
  const line = usage.directory.get(who.lineId, who.msisdn);
  const version = line ? versionAt(line, now) : undefined;
  const unknown: { failed: [ChargingResultCode, string] } = { failed: ['USER_UNKNOWN', 'no line with an active subscription'] };
  if (!line || !version) return unknown;
  // Not one of the partner's customers' lines: as if there were no such line.
  if (chargesOwnCustomersOnly(caller) && !(await partnerMayCharge(usage.sql, caller.partnerId, version.billingAccountId))) return unknown;
  const plan = await usage.plans.get(version.planVersionId);
  if (!plan.ok) return { failed: ['RATING_FAILED', plan.reason] };
  // A line not in service (not yet, or no more) may use nothing; offline, its usage is LINE_PENDING / LINE_TERMINATED.
  const status = statusAt(line, now);
  if (status !== 'ACTIVE' && status !== 'SUSPENDED' && status !== 'BARRED') return { failed: ['END_USER_SERVICE_DENIED', `line ${line.lineId} is ${status}`] };
  const probe = validateUsage({ ...base, eventId: 'probe', lineId: line.lineId, quantity: units.quantity, occurredAt: now.toISOString() }, { source: SOURCE }, now);
  if (!probe.ok) return { failed: ['RATING_FAILED', `${probe.rejection.code}: ${probe.rejection.reason}`] };
  // Rated as the line's next usage event would be: on the period's usage so far (period-graduated tiers,
  // allowance used ratios, spend in the period), from the pipeline's live counters.
  const probed = preceding?.gt(0) ? { ...probe.usage, precedingQuantity: preceding.toFixed() } : probe.usage;
  const result = await usage.pipeline.rateAsNext(plan.rater, probed, `probe:${line.lineId}`, line, version);
  if (result.decision === 'DENIED') return { failed: ['END_USER_SERVICE_DENIED', result.denyReason ?? 'DENIED'] };
  // The tariff's flat price only when no surcharge or discount changed it (as chargeRequestOf prices a CDR):
  // `pricePerUnit` is the price before adjustments, so a 50 % discount was held and committed at full price.
  const flat = result.pricePerUnit !== undefined && result.adjustments.every((a) => dec(a.applied).isZero());
  const pricePerUnit = flat ? result.pricePerUnit! : dec(result.chargedUnits).isZero() ? '0' : dec(result.price).div(result.chargedUnits).toDecimalPlaces(10).toString();
  return {
    line,
    terms: {
      hold: {
        billingAccountId: version.billingAccountId, unit: result.unit ?? units.unit, currency: result.currency, pricePerUnit, pricedByPart: !flat,
        allowanceIds: result.allowanceId ? [result.allowanceId] : [], allowOverdraft: version.paymentMode === 'POSTPAID' || Boolean(plan.rater.compiled.plan.balancePolicy?.overdraftAllowed), paymentMode: version.paymentMode,
        zone: zoneOf(plan.rater, result, probe.usage), increments: result.increments ?? null,
      },
      units: result.chargedUnits,
    },
  };
}

/**
 * Holds units in wallets; the request id derives from the session's ref (a partner's session's names its partner, so
 * two partners' sessions with one id never share a reservation) and the number (`<ref>#<n>`, and `<ref>#<n>:unreserved`
 * for units past the grant), so a retry holds nothing more.
 */
async function reserveUnits(nc: NatsConnection, ref: string, requestId: string, ctx: SessionContext, units: string): Promise<WalletReserveReply> {
  const request: WalletReserveRequest = {
    requestId, sessionId: ref, billingAccountId: ctx.billingAccountId, lineId: ctx.lineId, currency: ctx.currency, usageType: ctx.usageType,
    unit: ctx.unit, requestedUnits: units, pricePerUnit: ctx.pricePerUnit, allowanceIds: ctx.allowanceIds, allowOverdraft: ctx.allowOverdraft, zone: ctx.zone ?? null,
  };
  return rpc<WalletReserveReply>(nc, RPC.walletReserve, request);
}

/** The reply to a reserve: `granted`, the units the network may use (holdGranted). */
function replyOf(sessionId: string, grant: WalletReserveReply, granted: string | null): ChargingSessionReply {
  return {
    sessionId,
    resultCode: grant.resultCode,
    grantedUnit: granted,
    validityTime: grant.validityTime ?? null,
    finalUnitIndication: grant.resultCode !== 'SUCCESS' || Boolean(grant.finalUnitIndication),
    ...(grant.error ? { message: `${grant.error.code}: ${grant.error.message}` } : {}),
  };
}
