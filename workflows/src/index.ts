// Public API of @ledgerline/workflows (for the worker's start-up, the services that start
// workflows, and tests). Workflow code itself is loaded by the worker from ./workflows.
export { createActivities, type Activities, type ActivityDeps } from './activities';
export { createWorker, workflowsPath, DEFAULT_TASK_QUEUE, type CreateWorkerOptions } from './worker';
export { startRecharge, startBillCycle } from './client';
export * from './ports';
export { DomainError, ErrorCode, toActivityFailure } from './errors';
export { rechargeWorkflowId, validateRechargeInput, type RechargeInput, type RechargeResult, type RechargeStatus } from './domain/recharge';
export { nextPeriodEnd, billingPeriodFrom, billCycleWorkflowId, type BillingPeriod } from './domain/bill-cycle';
export type { BillCycleInput, BillCycleResult } from './workflows/bill-cycle';
export { SandboxPaymentProvider, SANDBOX_TOKENS, type SandboxScript, type SandboxOutcome } from './adapters/sandbox-payment-provider';
export { InMemoryWalletsClient, InMemoryReceiptsClient, InMemoryBillingPeriodsClient, type FakeOutcome } from './adapters/in-memory';
export { GraphqlWalletsClient, GraphqlReceiptsClient, GraphqlBillingPeriodsClient, graphqlRequest } from './adapters/graphql';
export {
  DEFAULT_DISPUTE_POLICY,
  DISPUTE_RESOLUTION_WORKFLOW_TYPE,
  disputeResolutionWorkflowId,
  validateDisputePolicy,
  type DisputePolicy,
  type DisputeResolutionInput,
  type DisputeResolutionStatus,
} from './domain/dispute-resolution';
