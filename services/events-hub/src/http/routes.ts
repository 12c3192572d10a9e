import type http from 'node:http';
import { DomainError, type Caller } from '@ledgerline/contracts';
import { AuthenticationError, callerFromAuthorization, internalErrorMessage, logInternalError, type Logger } from '@ledgerline/platform';
import type { HubDeps } from '../application/deps';
import { deleteHub, getHub, HUB_PATH, listHubs, registerHub } from '../application/hubs';
import { listDeliveries, retryDelivery } from '../application/deliveries';
import { rotateHubSecret } from '../application/rotate-secret';
import { replayEvents, type AccountsReadUpTo, type StreamReader } from '../application/replay-events';
import { EVENT_SCOPE_PATH, getEventScope, listEventScopes, setEventScope } from '../application/event-scope';

const STATUS_BY_CATEGORY: Record<DomainError['category'], number> = {
  BAD_USER_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  FORBIDDEN: 403,
  UNAUTHENTICATED: 401,
  INTERNAL: 500,
};
const MAX_BODY_BYTES = 64 * 1024;

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A TMF630-style error body: a stable `code`, the category as `reason`, a message a person can act on, the field at fault. */
export function errorReply(error: DomainError): Reply {
  const status = STATUS_BY_CATEGORY[error.category];
  // The details (field, …) first: none of them may overwrite the shape's own keys.
  return { status, body: { ...error.details, '@type': 'Error', code: error.code, reason: error.category, message: error.message, status: String(status) } };
}

/**
 * A failure the hub did not expect (PostgreSQL's, a driver's): logged at error with a fresh reference (and `fields`:
 * method, path) and answered 500 `internal error (reference <uuid>)` with `reference`, never with the failure's own
 * text; a partner quotes the reference, the log line has the details.
 */
export function internalErrorReply(logger: Logger, error: unknown, what: string, fields: Record<string, unknown>): Reply {
  const reference = logInternalError(logger, error, what, fields);
  return { status: 500, body: { '@type': 'Error', code: 'INTERNAL', reason: 'INTERNAL', message: internalErrorMessage(reference), status: '500', reference } };
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES)
      throw new DomainError('HUB_INPUT_INVALID', `The body is larger than ${MAX_BODY_BYTES} bytes`, { field: 'body' }, 'BAD_USER_INPUT');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new DomainError('HUB_INPUT_INVALID', 'The body is not valid JSON', { field: 'body' }, 'BAD_USER_INPUT');
  }
}

/**
 * The TMF688 hub routes: parse, call the use case, map the result. Everything under HUB_PATH needs
 * `Authorization: Bearer <PARTNER or ADMIN token>`.
 */
export function hubRoutes(deps: HubDeps, read: StreamReader, jwtSecret: string, logger: Logger, accountsRead?: AccountsReadUpTo) {
  return async (req: http.IncomingMessage, url: URL): Promise<Reply | null> => {
    const under = (base: string) => url.pathname === base || url.pathname.startsWith(`${base}/`);
    const scopes = under(EVENT_SCOPE_PATH);
    if (!scopes && !under(HUB_PATH)) return null;
    // A segment that is not valid %-encoding is kept as it is (no hub has such an id: 404, not a 500).
    const parts = url.pathname
      .slice((scopes ? EVENT_SCOPE_PATH : HUB_PATH).length)
      .split('/')
      .filter(Boolean)
      .map((p) => {
        try {
          return decodeURIComponent(p);
        } catch {
          return p;
        }
      });
    const method = req.method ?? 'GET';
    try {
      let caller: Caller;
      try {
        caller = await callerFromAuthorization(req.headers.authorization, jwtSecret);
      } catch (error) {
        if (error instanceof AuthenticationError) throw new DomainError('UNAUTHENTICATED', error.message, {}, 'UNAUTHENTICATED');
        throw error;
      }
      if (scopes) {
        // Staff's grant per partner: which events its hubs get (OWN_CUSTOMERS, ALL).
        if (parts.length === 0 && method === 'GET') {
          const all = await listEventScopes(deps, caller);
          return { status: 200, body: all, headers: { 'x-total-count': String(all.length), 'x-result-count': String(all.length) } };
        }
        if (parts.length === 1 && method === 'GET') return { status: 200, body: await getEventScope(deps, caller, parts[0]!) };
        if (parts.length === 1 && method === 'PUT') return { status: 200, body: await setEventScope(deps, caller, parts[0]!, await readJson(req)) };
      }
      const [id, sub, deliveryId, action] = parts;
      if (scopes) {
        const status = parts.length <= 1 ? 405 : 404;
        return { status, body: { '@type': 'Error', code: 'HUB_ROUTE_NOT_FOUND', reason: 'NOT_FOUND', message: `${method} ${url.pathname} is not an event scope operation`, status: String(status) } };
      }
      if (parts.length === 0 && method === 'POST') return { status: 201, body: await registerHub(deps, caller, await readJson(req)) };
      if (parts.length === 0 && method === 'GET') {
        const hubs = await listHubs(deps, caller);
        return { status: 200, body: hubs, headers: { 'x-total-count': String(hubs.length), 'x-result-count': String(hubs.length) } };
      }
      if (parts.length === 1 && method === 'GET') return { status: 200, body: await getHub(deps, caller, id!) };
      if (parts.length === 1 && method === 'DELETE') {
        await deleteHub(deps, caller, id!);
        return { status: 204 };
      }
      if (parts.length === 2 && sub === 'deliveries' && method === 'GET') {
        const page = await listDeliveries(deps, caller, id!, url.searchParams);
        return { status: 200, body: page.items, headers: { 'x-total-count': String(page.total), 'x-result-count': String(page.items.length) } };
      }
      if (parts.length === 4 && sub === 'deliveries' && action === 'retry' && method === 'POST')
        return { status: 200, body: await retryDelivery(deps, caller, id!, deliveryId!) };
      if (parts.length === 2 && sub === 'rotateSecret' && method === 'POST') return { status: 200, body: await rotateHubSecret(deps, caller, id!) };
      if (parts.length === 2 && sub === 'replay' && method === 'POST')
        return { status: 202, body: await replayEvents(deps, read, caller, id!, await readJson(req), accountsRead) };
      const status = parts.length <= 4 ? 405 : 404;
      return {
        status,
        body: {
          '@type': 'Error',
          code: 'HUB_ROUTE_NOT_FOUND',
          reason: 'NOT_FOUND',
          message: `${method} ${url.pathname} is not a hub operation`,
          status: String(status),
        },
      };
    } catch (error) {
      if (error instanceof DomainError) {
        if (error.category !== 'INTERNAL') return errorReply(error);
        // An INTERNAL one (a dependency down) keeps its message, which names the service only, as over GraphQL; where
        // and why (its cause) are logged under the reference it is answered with.
        const reference = logInternalError(logger, error, 'internal error answered', { method, path: url.pathname });
        const reply = errorReply(error);
        return { ...reply, body: { ...(reply.body as Record<string, unknown>), reference } };
      }
      return internalErrorReply(logger, error, 'hub request failed', { method, path: url.pathname });
    }
  };
}
