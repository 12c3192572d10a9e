// Activities of the upsell offer workflow: the subscribers service presents, reminds and closes
// an offer. Each step is idempotent on the service (the offer id is derived from line, period
// and add-on), so Temporal may retry freely.
import { portCaller } from './call-port';
import { graphqlRequest, type GraphqlClientOptions } from '../adapters/graphql';
import type { CallOptions } from '../ports';

/** FAILED: accepted, but its add-on order failed (it may be accepted again until it expires). */
export type UpsellOfferState = 'PRESENTED' | 'ACCEPTED' | 'DECLINED' | 'EXPIRED' | 'WITHDRAWN' | 'FAILED';

export interface UpsellOfferView {
  offerId: string;
  state: UpsellOfferState;
  expiresAt: string;
  reason: string | null;
}

export interface PresentOfferRequest {
  lineId: string;
  offerCode: string;
  period: string;
  /** The period's start and end (ISO instants), when the trigger gave them. */
  periodStart?: string;
  periodEnd?: string;
  rule: string;
  validForHours: number;
}

export interface UpsellClient {
  present(req: PresentOfferRequest, opts?: CallOptions): Promise<UpsellOfferView>;
  remind(offerId: string, opts?: CallOptions): Promise<UpsellOfferView>;
  close(offerId: string, opts?: CallOptions): Promise<UpsellOfferView>;
}

const FIELDS = 'offer { id state expiresAt reason }';
type OfferPayload = { offer: { id: string; state: UpsellOfferState; expiresAt: string; reason: string | null } };
const view = (p: OfferPayload): UpsellOfferView => ({ offerId: p.offer.id, state: p.offer.state, expiresAt: p.offer.expiresAt, reason: p.offer.reason });

/** subscribers subgraph (directly or through the gateway, with the service token). */
export class GraphqlUpsellClient implements UpsellClient {
  constructor(private readonly client: GraphqlClientOptions) {}

  async present(req: PresentOfferRequest, opts?: CallOptions) {
    const d = await graphqlRequest<{ presentUpsellOffer: OfferPayload }>(this.client, `mutation($i: PresentUpsellOfferInput!) { presentUpsellOffer(input: $i) { ${FIELDS} } }`, { i: req }, opts);
    return view(d.presentUpsellOffer);
  }
  async remind(offerId: string, opts?: CallOptions) {
    const d = await graphqlRequest<{ remindUpsellOffer: OfferPayload }>(this.client, `mutation($i: UpsellOfferRefInput!) { remindUpsellOffer(input: $i) { ${FIELDS} } }`, { i: { offerId } }, opts);
    return view(d.remindUpsellOffer);
  }
  async close(offerId: string, opts?: CallOptions) {
    const d = await graphqlRequest<{ closeUpsellOffer: OfferPayload }>(this.client, `mutation($i: UpsellOfferRefInput!) { closeUpsellOffer(input: $i) { ${FIELDS} } }`, { i: { offerId } }, opts);
    return view(d.closeUpsellOffer);
  }
}

export function createUpsellActivities(deps: { upsell: UpsellClient }, { callTimeoutMs = 20_000 }: { callTimeoutMs?: number } = {}) {
  const call = portCaller(callTimeoutMs);
  return {
    presentUpsellOffer: (req: PresentOfferRequest) => call('SUBSCRIBERS', (o) => deps.upsell.present(req, o)),
    remindUpsellOffer: (offerId: string) => call('SUBSCRIBERS', (o) => deps.upsell.remind(offerId, o)),
    closeUpsellOffer: (offerId: string) => call('SUBSCRIBERS', (o) => deps.upsell.close(offerId, o)),
  };
}

export type UpsellActivities = ReturnType<typeof createUpsellActivities>;
