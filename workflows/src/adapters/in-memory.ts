// In-memory stand-ins for the wallets and invoicing services, for tests and for running the
// worker without the services. Idempotent by key like the real ones; failures are scripted per
// call so tests can make the n-th call hang, fail, or succeed after losing its answer.
import Decimal from 'decimal.js';
import { DomainError, ErrorCode } from '../errors';
import type {
  BillingPeriodsClient,
  CallOptions,
  CloseCreditKeyRequest,
  ClosePeriodRequest,
  CreditWalletRequest,
  IssueReceiptRequest,
  ReceiptsClient,
  WalletsClient,
} from '../ports';
import { hangUntilAborted, IdempotencyStore, scripted } from './idempotency';

/**
 * What the n-th call does: `ok`; `fail` (transient, before any effect); `reject` (a permanent
 * domain refusal, not retryable); `hang` (no answer until aborted); `apply-then-hang` /
 * `apply-then-fail` (the effect happens, the answer is lost).
 */
export type FakeOutcome = 'ok' | 'fail' | 'reject' | 'hang' | 'apply-then-hang' | 'apply-then-fail';

export interface FakeOptions {
  /** Outcome per call (1st, 2nd, …); the last entry repeats. Default: always ok. */
  script?: readonly FakeOutcome[];
  /** Error code used by `reject`. */
  rejectCode?: string;
}

/** Base: counts calls, plays the script, stores results by idempotency key, lets tests wait. */
abstract class ScriptedFake<Req extends { idempotencyKey: string }, Res> {
  calls = 0;
  protected readonly store = new IdempotencyStore<Res>();
  private readonly waiters: Array<{ n: number; resolve: () => void }> = [];

  constructor(
    private readonly name: string,
    private readonly opts: FakeOptions = {},
  ) {}

  /** Resolves once the n-th call has started (to act while a call is in flight). */
  whenCalled(n: number): Promise<void> {
    if (this.calls >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  protected async handle(req: Req, opts: CallOptions | undefined, apply: () => Res): Promise<Res> {
    this.calls += 1;
    const call = this.calls;
    for (const w of this.waiters.filter((w) => w.n <= call)) w.resolve();
    const outcome = scripted(this.opts.script, call, 'ok');

    if (outcome === 'hang') await hangUntilAborted(opts?.signal, this.name);
    if (outcome === 'fail') throw new Error(`${this.name} unavailable (call ${call})`);
    if (outcome === 'reject') throw new DomainError(this.opts.rejectCode ?? 'BAD_USER_INPUT', `${this.name} refused (call ${call})`);

    const result = this.store.get(req.idempotencyKey, req) ?? this.store.put(req.idempotencyKey, req, apply());
    if (outcome === 'apply-then-hang') await hangUntilAborted(opts?.signal, this.name);
    if (outcome === 'apply-then-fail') throw new Error(`${this.name} applied but the answer was lost (call ${call})`);
    return result;
  }
}

export interface WalletCredit extends CreditWalletRequest {
  transactionId: string;
}

export class InMemoryWalletsClient extends ScriptedFake<CreditWalletRequest, WalletCredit> implements WalletsClient {
  /** Keys closed with nothing credited: a credit under one of them is refused (CONFLICT). */
  readonly closedKeys = new Set<string>();
  closeCalls = 0;

  constructor(opts?: FakeOptions) {
    super('wallets.creditWallet', opts);
  }

  async creditWallet(req: CreditWalletRequest, opts?: CallOptions): Promise<{ transactionId: string }> {
    const credit = await this.handle(req, opts, () => {
      if (this.closedKeys.has(req.idempotencyKey)) throw new DomainError(ErrorCode.CONFLICT, `credit key ${req.idempotencyKey} was closed`);
      return { ...req, transactionId: `wtx_${this.store.size + 1}` };
    });
    return { transactionId: credit.transactionId };
  }

  /** Not scripted: answers at once, like wallets' `closeTopupKey`. */
  async closeCreditKey(req: CloseCreditKeyRequest): Promise<{ transactionId: string | null }> {
    this.closeCalls += 1;
    const credit = this.store.find(req.idempotencyKey);
    if (credit) return { transactionId: credit.transactionId };
    this.closedKeys.add(req.idempotencyKey);
    return { transactionId: null };
  }

  /** Credits that took effect (one per idempotency key). */
  get credits(): WalletCredit[] {
    return this.store.values();
  }

  balance(billingAccountId: string, currency: string): string {
    return this.credits
      .filter((c) => c.billingAccountId === billingAccountId && c.currency === currency)
      .reduce((sum, c) => sum.plus(c.amount), new Decimal(0))
      .toFixed();
  }
}

export interface Receipt extends IssueReceiptRequest {
  receiptId: string;
}

export class InMemoryReceiptsClient extends ScriptedFake<IssueReceiptRequest, Receipt> implements ReceiptsClient {
  constructor(opts?: FakeOptions) {
    super('receipts.issueReceipt', opts);
  }

  async issueReceipt(req: IssueReceiptRequest, opts?: CallOptions): Promise<{ receiptId: string }> {
    const receipt = await this.handle(req, opts, () => ({ ...req, receiptId: `rcpt_${this.store.size + 1}` }));
    return { receiptId: receipt.receiptId };
  }

  get receipts(): Receipt[] {
    return this.store.values();
  }
}

export interface ClosedPeriod extends ClosePeriodRequest {
  periodId: string;
}

export class InMemoryBillingPeriodsClient extends ScriptedFake<ClosePeriodRequest, ClosedPeriod> implements BillingPeriodsClient {
  constructor(opts?: FakeOptions) {
    super('invoicing.closePeriod', opts);
  }

  async closePeriod(req: ClosePeriodRequest, opts?: CallOptions): Promise<{ periodId: string }> {
    const closed = await this.handle(req, opts, () => ({ ...req, periodId: `bp_${this.store.size + 1}` }));
    return { periodId: closed.periodId };
  }

  get closed(): ClosedPeriod[] {
    return this.store.values();
  }
}
