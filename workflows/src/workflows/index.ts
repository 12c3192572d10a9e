// Entry point of the workflow bundle: every workflow the worker runs is exported here.
// Only workflow code and pure modules may be reachable from this file (no Node built-ins).
export { rechargeWorkflow, rechargeStatusQuery } from './recharge';
export { billCycleWorkflow, accountClosedSignal, currentPeriodQuery } from './bill-cycle';
export type { BillCycleInput, BillCycleResult } from './bill-cycle';
export { billRunWorkflow, billRunBatchWorkflow, billRunProgressQuery } from './bill-run';
export { dunningWorkflow, paymentRecordedSignal, disputeChangedSignal, dunningStatusQuery } from './dunning';
export { orderFulfilmentWorkflow, orderStepQuery } from './order-fulfilment';
export type { OrderFulfilmentInput, OrderFulfilmentResult } from './order-fulfilment';
export { upsellOfferWorkflow, upsellOfferStateQuery } from './upsell-offer';
export type { UpsellOfferInput } from './upsell-offer';
export { disputeResolutionWorkflow, disputeDecidedSignal, disputeStatusQuery } from './dispute-resolution';
export type { DisputePolicy, DisputeResolutionInput, DisputeResolutionStatus } from './dispute-resolution';
