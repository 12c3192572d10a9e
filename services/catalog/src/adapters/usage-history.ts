import { callerHeaders, DEV_INTERNAL_SECRET, SYSTEM_CALLER } from '@ledgerline/platform';
import { DomainError } from '@ledgerline/contracts';
import type { UsageRecordInput } from '../application/rate-with-plans';

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

export class GraphqlUsageHistory implements UsageHistory {
  constructor(
    private readonly url = process.env.USAGE_URL ?? 'http://127.0.0.1:4003/graphql',
    private readonly secret = process.env.LEDGERLINE_INTERNAL_SECRET ?? DEV_INTERNAL_SECRET,
  ) {}

  async recordsOf(billingAccountId: string, from: Date, to: Date): Promise<UsageRecordInput[]> {
    const records: UsageRecordInput[] = [];
    let after: string | null = null;
    for (let page = 0; page < 500; page++) {
      const response: Response = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...callerHeaders(SYSTEM_CALLER, this.secret) },
        body: JSON.stringify({ query: QUERY, variables: { f: { billingAccountId, from: from.toISOString(), to: to.toISOString() }, after } }),
      }).catch(() => {
        throw new DomainError('USAGE_UNAVAILABLE', `The usage service at ${this.url} did not answer`, {}, 'INTERNAL');
      });
      const body = (await response.json()) as { data?: { usageRecords: { edges: { node: Node }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } }; errors?: { message: string }[] };
      if (!body.data) throw new DomainError('USAGE_UNAVAILABLE', `The usage service refused: ${body.errors?.[0]?.message ?? response.status}`, {}, 'INTERNAL');
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
