import { callerHeaders } from '@ledgerline/platform';
import { DomainError, dependencyUnavailable, type Caller } from '@ledgerline/contracts';
import type { UsageRecordInput } from '../application/rate-with-plans';

/** Read when a history is made (each comparePlans): a test's stand-in set after the modules loaded is the one asked. */
const usageUrl = (): string => process.env.USAGE_URL ?? 'http://127.0.0.1:4003/graphql';

/** An account's accepted usage in a period, read from the usage subgraph (for comparePlans). */
export interface UsageHistory {
  recordsOf(billingAccountId: string, from: Date, to: Date): Promise<UsageRecordInput[]>;
}

const QUERY = `query($f: UsageRecordFilter, $after: String) {
  usageRecords(filter: $f, first: 200, after: $after) {
    edges { node { eventId usageType direction quantity occurredAt calledNumber roamingCountry visitedMcc status } }
    pageInfo { hasNextPage endCursor }
  }
}`;

interface Node {
  eventId: string;
  usageType: string | null;
  direction: string | null;
  quantity: string | null;
  occurredAt: string | null;
  calledNumber: string | null;
  roamingCountry: string | null;
  visitedMcc: string | null;
  status: string;
}

/** How the usage service's refusals come back to the catalog's caller: the same category, naming the input field. */
const PASSED_ON = ['UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT', 'NOT_FOUND'] as const;

/**
 * Reads usage as the catalog's own caller, never as SYSTEM: the request carries the caller's
 * signed identity (as the gateway forwards it), so the usage service's own authorization applies
 * (staff read every account, a customer only the accounts they own). The catalog does not know
 * who owns an account; usage does, from its read model.
 */
export class GraphqlUsageHistory implements UsageHistory {
  constructor(
    private readonly caller: Caller,
    private readonly secret: string,
    private readonly url = usageUrl(),
  ) {}

  async recordsOf(billingAccountId: string, from: Date, to: Date): Promise<UsageRecordInput[]> {
    const records: UsageRecordInput[] = [];
    let after: string | null = null;
    for (let page = 0; page < 500; page++) {
      const response: Response = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...callerHeaders(this.caller, this.secret) },
        body: JSON.stringify({ query: QUERY, variables: { f: { billingAccountId, from: from.toISOString(), to: to.toISOString() }, after } }),
      }).catch((error: unknown) => {
        throw dependencyUnavailable('USAGE_UNAVAILABLE', 'The usage service did not answer; try again later', this.url, error);
      });
      const body = (await response.json().catch(() => ({}))) as {
        data?: { usageRecords: { edges: { node: Node }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } | null } | null;
        errors?: { message: string; extensions?: { code?: string; reason?: string } }[];
      };
      const refusal = body.errors?.[0];
      const category = PASSED_ON.find((c) => c === refusal?.extensions?.code);
      if (refusal && category) throw new DomainError(refusal.extensions?.reason ?? category, refusal.message, { field: 'input.billingAccountId' }, category);
      if (!body.data?.usageRecords) throw new DomainError('USAGE_UNAVAILABLE', `The usage service refused: ${refusal?.message ?? response.status}`, {}, 'INTERNAL');
      for (const { node } of body.data.usageRecords.edges) {
        if (node.status === 'REJECTED' || !node.usageType || !node.quantity || !node.occurredAt) continue;
        records.push({
          id: node.eventId,
          usageType: node.usageType,
          direction: node.direction,
          quantity: node.quantity,
          occurredAt: new Date(node.occurredAt),
          calledNumber: node.calledNumber,
          roamingCountry: node.roamingCountry,
          visitedMcc: node.visitedMcc,
        });
      }
      if (!body.data.usageRecords.pageInfo.hasNextPage) return records;
      after = body.data.usageRecords.pageInfo.endCursor;
    }
    return records;
  }
}
