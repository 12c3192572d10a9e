// Activities of the dispute resolution workflow, from a factory (CONVENTIONS rule 7) over a port:
// the worker passes the GraphQL client below (invoicing owns the dispute), a worker without the
// graph the in-memory stand-in, tests their fakes. Each activity is a thin adapter: call the port
// with an abort signal, map DomainError to a typed ApplicationFailure. Every call is idempotent on
// the service (assess answers its stored result, escalate is a max, deciding again with the same
// decision answers the dispute as it is), so Temporal may retry freely.
import { portCaller } from './call-port';
import { DomainError, ErrorCode } from '../errors';
import { graphqlRequest, type GraphqlClientOptions } from '../adapters/graphql';
import { isDisputeClosed, type DisputeState, type DisputeStatus } from '../domain/dispute-resolution';
import type { CallOptions } from '../ports';

export type { DisputeState, DisputeStatus } from '../domain/dispute-resolution';

export type DisputeDecision = 'ACCEPT' | 'REJECT';

export interface DisputeRef {
  disputeId: string;
}
export interface EscalateDisputeRequest extends DisputeRef {
  level: number;
}
export interface DecideDisputeRequest extends DisputeRef {
  decision: DisputeDecision;
  note: string;
}

/** Invoicing's reason for deciding a dispute another decision already closed. */
export const DISPUTE_ALREADY_DECIDED = 'DISPUTE_ALREADY_DECIDED';

/** The invoicing service, as the dispute resolution workflow uses it (the workflow's SYSTEM mutations). */
export interface DisputesPort {
  /** Runs the auto-assessment: ACCEPTED (a rule accepted it) or IN_REVIEW; a second call answers the stored result. */
  assess(req: DisputeRef, opts?: CallOptions): Promise<DisputeState>;
  state(req: DisputeRef, opts?: CallOptions): Promise<DisputeState>;
  /** escalationLevel = max(current, level) on an open dispute; a closed one is answered as it is. */
  escalate(req: EscalateDisputeRequest, opts?: CallOptions): Promise<DisputeState>;
  /**
   * Closes the dispute with the decision. When someone decided first (another decision: invoicing's
   * CONFLICT DISPUTE_ALREADY_DECIDED) it answers the dispute as it is: that is no failure.
   */
  decide(req: DecideDisputeRequest, opts?: CallOptions): Promise<DisputeState>;
}

export function createDisputeActivities(deps: { disputes: DisputesPort }, { callTimeoutMs = 20_000 }: { callTimeoutMs?: number } = {}) {
  const call = portCaller(callTimeoutMs);
  return {
    assessDispute: (req: DisputeRef) => call('INVOICING', (o) => deps.disputes.assess(req, o)),
    disputeState: (req: DisputeRef) => call('INVOICING', (o) => deps.disputes.state(req, o)),
    escalateDispute: (req: EscalateDisputeRequest) => call('INVOICING', (o) => deps.disputes.escalate(req, o)),
    decideDispute: (req: DecideDisputeRequest) => call('INVOICING', (o) => deps.disputes.decide(req, o)),
  };
}

export type DisputeActivities = ReturnType<typeof createDisputeActivities>;

// ---- GraphQL client (invoicing subgraph, or the gateway with the worker's service token) -------

/** Whether a refusal is invoicing's "this dispute was already decided otherwise". */
export function isAlreadyDecided(err: unknown): boolean {
  if (!(err instanceof DomainError)) return false;
  if (err.code === DISPUTE_ALREADY_DECIDED) return true;
  const extensions = err.details?.extensions as { reason?: unknown } | undefined;
  return err.code === ErrorCode.CONFLICT && extensions?.reason === DISPUTE_ALREADY_DECIDED;
}

const FIELDS = 'dispute { status escalationLevel reviewDueAt }';
type Payload = { dispute: DisputeState };
const view = (d: DisputeState): DisputeState => ({ status: d.status, escalationLevel: d.escalationLevel, ...(d.reviewDueAt ? { reviewDueAt: d.reviewDueAt } : {}) });

/**
 * invoicing subgraph: `assessDispute`, `escalateDispute`, `decideDispute` and `dispute(id)`. The
 * inputs are written inline (field names are the contract's), so the client does not depend on
 * the names of the input types.
 */
export class GraphqlDisputesClient implements DisputesPort {
  constructor(private readonly client: GraphqlClientOptions) {}

  async assess(req: DisputeRef, opts?: CallOptions): Promise<DisputeState> {
    const d = await graphqlRequest<{ assessDispute: Payload }>(this.client, `mutation($id: ID!) { assessDispute(input: { disputeId: $id }) { ${FIELDS} } }`, { id: req.disputeId }, opts);
    return view(d.assessDispute.dispute);
  }

  async state(req: DisputeRef, opts?: CallOptions): Promise<DisputeState> {
    const d = await graphqlRequest<{ dispute: DisputeState | null }>(this.client, `query($id: ID!) { dispute(id: $id) { status escalationLevel reviewDueAt } }`, { id: req.disputeId }, opts);
    if (!d.dispute) throw new DomainError('DISPUTE_NOT_FOUND', `Dispute ${req.disputeId} does not exist`);
    return view(d.dispute);
  }

  async escalate(req: EscalateDisputeRequest, opts?: CallOptions): Promise<DisputeState> {
    const d = await graphqlRequest<{ escalateDispute: Payload }>(
      this.client,
      `mutation($id: ID!, $level: Int!) { escalateDispute(input: { disputeId: $id, level: $level }) { ${FIELDS} } }`,
      { id: req.disputeId, level: req.level },
      opts,
    );
    return view(d.escalateDispute.dispute);
  }

  async decide(req: DecideDisputeRequest, opts?: CallOptions): Promise<DisputeState> {
    try {
      const d = await graphqlRequest<{ decideDispute: Payload }>(
        this.client,
        `mutation($id: ID!, $decision: DisputeDecision!, $note: String!) { decideDispute(input: { disputeId: $id, decision: $decision, note: $note }) { ${FIELDS} } }`,
        { id: req.disputeId, decision: req.decision, note: req.note },
        opts,
      );
      return view(d.decideDispute.dispute);
    } catch (err) {
      // An agent (or the customer withdrawing) got there first: the dispute is closed, as wanted.
      if (isAlreadyDecided(err)) return this.state(req, opts);
      throw err;
    }
  }
}

// ---- In-memory stand-in (a worker without GATEWAY_URL, and tests) -------------------------------

interface StoredDispute extends DisputeState {
  /** A rule name: the assessment accepts the dispute (decidedBy `auto:<rule>`). */
  autoAcceptRule: string | null;
  decision: DisputeDecision | null;
  decidedBy: string | null;
  note: string | null;
}

/**
 * Disputes kept in memory, following invoicing's contract: assessment (OPEN → ACCEPTED by a rule,
 * else IN_REVIEW; idempotent), escalation (a max, on open disputes only), decisions (closing;
 * the same decision again answers it, another is CONFLICT DISPUTE_ALREADY_DECIDED for an agent,
 * and the workflow's port call answers the state instead). Without invoicing nothing opens disputes
 * here, so a dispute the stand-in has not seen is opened by its assessment.
 */
export class InMemoryDisputes implements DisputesPort {
  private readonly disputes = new Map<string, StoredDispute>();

  /** Opens a dispute (OPEN, level 0); `autoAcceptRule`: the assessment accepts it under that rule. */
  open(disputeId: string, opts: { autoAcceptRule?: string } = {}): DisputeState {
    const existing = this.disputes.get(disputeId);
    if (existing) return view(existing);
    const d: StoredDispute = { status: 'OPEN', escalationLevel: 0, autoAcceptRule: opts.autoAcceptRule ?? null, decision: null, decidedBy: null, note: null };
    this.disputes.set(disputeId, d);
    return view(d);
  }

  /** The dispute as stored (decision, who decided, note), for tests and logs. */
  get(disputeId: string): Readonly<StoredDispute> | undefined {
    return this.disputes.get(disputeId);
  }

  /** What an agent (or the customer, WITHDRAWN) does in invoicing; another decision on a closed dispute is refused. */
  close(disputeId: string, decision: DisputeDecision | 'WITHDRAW', by: string, note = ''): DisputeState {
    const d = this.find(disputeId);
    const status: DisputeStatus = decision === 'ACCEPT' ? 'ACCEPTED' : decision === 'REJECT' ? 'REJECTED' : 'WITHDRAWN';
    if (isDisputeClosed(d.status)) {
      if (d.status === status) return view(d);
      throw new DomainError(ErrorCode.CONFLICT, `Dispute ${disputeId} is already ${d.status}`, { details: { extensions: { code: ErrorCode.CONFLICT, reason: DISPUTE_ALREADY_DECIDED } } });
    }
    Object.assign(d, { status, decision: decision === 'WITHDRAW' ? null : decision, decidedBy: by, note });
    return view(d);
  }

  async assess(req: DisputeRef): Promise<DisputeState> {
    const d = this.disputes.get(req.disputeId) ?? (this.open(req.disputeId), this.find(req.disputeId));
    if (d.status === 'OPEN') {
      if (d.autoAcceptRule) Object.assign(d, { status: 'ACCEPTED', decision: 'ACCEPT', decidedBy: `auto:${d.autoAcceptRule}`, note: `accepted by rule ${d.autoAcceptRule}` });
      else d.status = 'IN_REVIEW';
    }
    return view(d);
  }

  async state(req: DisputeRef): Promise<DisputeState> {
    return view(this.find(req.disputeId));
  }

  async escalate(req: EscalateDisputeRequest): Promise<DisputeState> {
    const d = this.find(req.disputeId);
    if (!isDisputeClosed(d.status)) d.escalationLevel = Math.max(d.escalationLevel, req.level);
    return view(d);
  }

  async decide(req: DecideDisputeRequest): Promise<DisputeState> {
    try {
      return this.close(req.disputeId, req.decision, 'SYSTEM', req.note);
    } catch (err) {
      if (isAlreadyDecided(err)) return this.state(req);
      throw err;
    }
  }

  private find(disputeId: string): StoredDispute {
    const d = this.disputes.get(disputeId);
    if (!d) throw new DomainError('DISPUTE_NOT_FOUND', `Dispute ${disputeId} does not exist`);
    return d;
  }
}
