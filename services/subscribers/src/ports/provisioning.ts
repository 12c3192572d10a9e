import { DomainError } from '@ledgerline/contracts';
import type { OrderKind } from '../domain/order';

/** What the network (HLR/HSS, PCRF, SIM platform) is asked to do for one order. */
export interface ProvisioningRequest {
  orderId: string;
  kind: OrderKind;
  lineId: string;
  msisdn: string;
  /** The line's SIM; for a SIM_REPLACEMENT, the new SIM the network moves the line onto. */
  iccid: string | null;
  /** SIM_REPLACEMENT only: the SIM the line is moved off (what compensation moves it back to). */
  previousIccid?: string | null;
  imsi: string | null;
  /** The plan whose service profile the network should apply (new line, plan change). */
  planCode: string | null;
  /** Same key, same effect: a retried call must not provision twice. */
  idempotencyKey: string;
}

export interface ProvisioningCallOptions {
  signal?: AbortSignal;
}

/**
 * The provisioning system. `execute` applies an order on the network; `compensate` undoes it and
 * must be safe to call whether or not `execute` took effect (it is the saga's compensation).
 * Both are idempotent per `idempotencyKey`, and a compensated key stays compensated: an `execute`
 * arriving after its compensation (a stalled runner of a saga another runner has failed and undone)
 * applies nothing and is refused `PROVISIONING_ORDER_COMPENSATED` (`retryable: false`).
 * Permanent refusals throw DomainError with a `PROVISIONING_` code and `retryable: false`;
 * outages throw anything else (retried).
 */
export interface ProvisioningAdapter {
  execute(req: ProvisioningRequest, opts?: ProvisioningCallOptions): Promise<{ networkRef: string }>;
  compensate(req: ProvisioningRequest, opts?: ProvisioningCallOptions): Promise<void>;
}

export type SandboxBehaviour =
  /** Refuse permanently (e.g. SIM unknown to the HLR). */
  | { mode: 'reject'; code?: string }
  /** Fail with an outage `times` times, then work. */
  | { mode: 'flaky'; times: number }
  /** Apply on the network, then report an error (the half-done case compensation exists for). */
  | { mode: 'fail-after-apply' }
  /** Never answer (until aborted). */
  | { mode: 'hang' };

/** What the sandbox network holds for one MSISDN (the SIM it is served on: `iccid`). */
export interface NetworkEntry {
  status: string;
  planCode: string | null;
  iccid: string | null;
  networkRef: string;
}

/**
 * An in-memory network that tests can make fail or hang. Network state per MSISDN shows what
 * was applied and whether compensation undid it.
 */
export class SandboxProvisioning implements ProvisioningAdapter {
  readonly network = new Map<string, NetworkEntry>();
  readonly calls: { op: 'execute' | 'compensate'; kind: OrderKind; msisdn: string }[] = [];
  private readonly behaviours = new Map<string, SandboxBehaviour>();
  private readonly applied = new Map<string, { before: NetworkEntry | undefined }>();
  private readonly compensated = new Set<string>();

  /** Make orders of `kind` on `msisdn` (or any, with '*') behave badly. */
  behave(kind: OrderKind | '*', msisdn: string | '*', behaviour: SandboxBehaviour | null): void {
    const key = `${kind}|${msisdn}`;
    if (behaviour) this.behaviours.set(key, behaviour);
    else this.behaviours.delete(key);
  }

  private behaviourFor(req: ProvisioningRequest): SandboxBehaviour | undefined {
    return this.behaviours.get(`${req.kind}|${req.msisdn}`) ?? this.behaviours.get(`${req.kind}|*`) ?? this.behaviours.get(`*|${req.msisdn}`) ?? this.behaviours.get('*|*');
  }

  async execute(req: ProvisioningRequest, opts: ProvisioningCallOptions = {}): Promise<{ networkRef: string }> {
    this.calls.push({ op: 'execute', kind: req.kind, msisdn: req.msisdn });
    const behaviour = this.behaviourFor(req);
    if (behaviour?.mode === 'hang') {
      await new Promise<never>((_, reject) => {
        if (opts.signal?.aborted) reject(opts.signal.reason);
        opts.signal?.addEventListener('abort', () => reject(opts.signal!.reason ?? new Error('aborted')), { once: true });
      });
    }
    if (behaviour?.mode === 'reject') {
      throw new DomainError(behaviour.code ?? 'PROVISIONING_REJECTED', `The network refused ${req.kind} for ${req.msisdn}`, { retryable: false });
    }
    if (behaviour?.mode === 'flaky' && behaviour.times > 0) {
      behaviour.times -= 1;
      throw new Error(`provisioning system unavailable (sandbox outage for ${req.msisdn})`);
    }
    if (this.compensated.has(req.idempotencyKey)) {
      throw new DomainError('PROVISIONING_ORDER_COMPENSATED', `${req.kind} for ${req.msisdn} was already undone (order ${req.orderId})`, { retryable: false });
    }
    const existing = this.applied.get(req.idempotencyKey);
    if (!existing) {
      const before = this.network.get(req.msisdn);
      this.applied.set(req.idempotencyKey, { before: before && { ...before } });
      const networkRef = before?.networkRef ?? `hlr-${req.msisdn.slice(1)}`;
      this.network.set(req.msisdn, { status: statusAfter(req.kind, before?.status), planCode: req.planCode ?? before?.planCode ?? null, iccid: req.iccid ?? before?.iccid ?? null, networkRef });
    }
    if (behaviour?.mode === 'fail-after-apply') throw new Error(`provisioning of ${req.msisdn} timed out after it was applied (sandbox)`);
    return { networkRef: this.network.get(req.msisdn)!.networkRef };
  }

  async compensate(req: ProvisioningRequest): Promise<void> {
    this.calls.push({ op: 'compensate', kind: req.kind, msisdn: req.msisdn });
    this.compensated.add(req.idempotencyKey);
    const applied = this.applied.get(req.idempotencyKey);
    if (!applied) return;
    if (applied.before) this.network.set(req.msisdn, applied.before);
    else this.network.delete(req.msisdn);
    this.applied.delete(req.idempotencyKey);
  }
}

function statusAfter(kind: OrderKind, before: string | undefined): string {
  switch (kind) {
    case 'NEW_LINE':
    case 'RESUME':
      return 'ACTIVE';
    case 'SUSPEND':
      return 'SUSPENDED';
    case 'BAR':
      return 'BARRED';
    case 'TERMINATE':
      return 'TERMINATED';
    default:
      return before ?? 'ACTIVE';
  }
}
