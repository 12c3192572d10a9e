import { DomainError, EVENTS, USAGE_INGEST_PARTITIONS, usageIngestSubject, WORK_SUBJECTS, type EventDefinition } from '@ledgerline/contracts';

/**
 * A hub's TMF688 query: `eventType=<CloudEvent type>[,<type>…]` and/or
 * `subject=<event subject or NATS wildcard>[,…]`, joined by `&`. Within a field the values are
 * alternatives (OR); both fields given must both match (AND). An empty query takes every event.
 * Only the event registry counts: ingest and charge work subjects share the `billing.` prefix but
 * are never events, so no query can name or reach them.
 */
export interface HubQuery {
  eventTypes: string[];
  subjects: string[];
}

const REGISTRY: readonly EventDefinition[] = Object.values(EVENTS);
const EVENT_SUBJECTS = new Set(REGISTRY.map((e) => e.subject));
const EVENT_TYPES = new Set(REGISTRY.map((e) => e.type));
/** Subjects on the BILLING stream that are work, not events (ingest partitions, charges). */
const WORK_SUBJECT_LIST: readonly string[] = [
  ...Array.from({ length: USAGE_INGEST_PARTITIONS }, (_, p) => usageIngestSubject(p)),
  ...Object.values(WORK_SUBJECTS),
];

const badQuery = (field: string, message: string) => new DomainError('HUB_QUERY_INVALID', message, { field }, 'BAD_USER_INPUT');

/** Whether a NATS subject filter (`*` one token, `>` the rest) matches a concrete subject. */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (f[i] !== '*' && f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}

export function isEventSubject(subject: string): boolean {
  return EVENT_SUBJECTS.has(subject);
}

/** Parses and validates a query; an unknown field, type or subject is a 400 naming it. */
export function parseHubQuery(raw: unknown): HubQuery {
  if (raw === undefined || raw === null || raw === '') return { eventTypes: [], subjects: [] };
  if (typeof raw !== 'string') throw badQuery('query', 'query must be a string such as "eventType=CustomerBillCreateEvent"');
  const query: HubQuery = { eventTypes: [], subjects: [] };
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw badQuery('query', `query has a malformed %-escape in "${s}"`);
    }
  };
  for (const part of raw.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = decode(eq < 0 ? part : part.slice(0, eq)).trim();
    const values = (eq < 0 ? '' : decode(part.slice(eq + 1)))
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean);
    if (name === 'eventType') {
      if (!values.length) throw badQuery('query.eventType', 'eventType needs at least one CloudEvent type');
      for (const type of values)
        if (!EVENT_TYPES.has(type))
          throw badQuery('query.eventType', `eventType "${type}" is not an event type of the registry (e.g. CustomerBillCreateEvent, PaymentCreateEvent)`);
      query.eventTypes.push(...values);
    } else if (name === 'subject') {
      if (!values.length) throw badQuery('query.subject', 'subject needs at least one event subject');
      for (const subject of values) {
        if (!/^[a-z0-9]+(\.([a-z0-9]+|\*))*(\.>)?$/.test(subject) && subject !== '>')
          throw badQuery('query.subject', `subject "${subject}" is not a subject filter (lower-case dot tokens, "*" or a final ">")`);
        if (!REGISTRY.some((e) => subjectMatches(subject, e.subject)))
          throw badQuery('query.subject', `subject "${subject}" matches no event subject of the registry (ingest and charge work subjects are not events)`);
      }
      query.subjects.push(...values);
    } else {
      throw badQuery('query', `query field "${name}" is not supported; use eventType=<type>[,<type>…] and/or subject=<subject>[,…]`);
    }
  }
  query.eventTypes = [...new Set(query.eventTypes)];
  query.subjects = [...new Set(query.subjects)];
  return query;
}

const WORK_SUBJECT_SET = new Set(WORK_SUBJECT_LIST);

function filterMatches(query: HubQuery, event: { subject: string; type: string }): boolean {
  if (query.eventTypes.length && !query.eventTypes.includes(event.type)) return false;
  if (query.subjects.length && !query.subjects.some((f) => subjectMatches(f, event.subject))) return false;
  return true;
}

/** Whether an event (its subject on the stream and CloudEvent type) is one a hub asked for. */
export function queryMatches(query: HubQuery, event: { subject: string; type: string }): boolean {
  return EVENT_SUBJECTS.has(event.subject) && filterMatches(query, event);
}

/**
 * Whether an event on a subject this hub's registry does not know (its producer was deployed first) is one a hub
 * asked for: by its subject filters and, a TMF type being shared by several subjects, its type. Known work subjects
 * never match.
 */
export function queryMatchesUnknownSubject(query: HubQuery, event: { subject: string; type: string }): boolean {
  return !EVENT_SUBJECTS.has(event.subject) && !WORK_SUBJECT_SET.has(event.subject) && filterMatches(query, event);
}

/** The registry's event subjects (what held unknown-type events are released for once the hub knows them). */
export function eventSubjects(): string[] {
  return [...EVENT_SUBJECTS];
}

/** The registry's event subjects a query can match (for a replay: read only those). */
export function subjectsOf(query: HubQuery): string[] {
  return REGISTRY.filter((e) => queryMatches(query, e)).map((e) => e.subject);
}

/**
 * Subject filters that together read every event subject and no work subject, one durable
 * consumer each (NATS before 2.10 takes one filter per consumer). A whole service (`billing.x.>`)
 * when no work subject lives under it, else an entity (`billing.x.y.*`), else the exact subject.
 */
export function consumerFilters(): string[] {
  const isWork = (filter: string) => WORK_SUBJECT_LIST.some((w) => subjectMatches(filter, w));
  const out = new Set<string>();
  for (const e of REGISTRY) {
    const [root, service, entity] = e.subject.split('.');
    const candidates = [`${root}.${service}.>`, `${root}.${service}.${entity}.*`, e.subject];
    out.add(candidates.find((c) => !isWork(c))!);
  }
  return [...out].sort();
}
