// Entry point of the workflow bundle: every workflow the worker runs is exported here.
// Only workflow code and pure modules may be reachable from this file (no Node built-ins).
export { rechargeWorkflow, rechargeStatusQuery } from './recharge';
export { billCycleWorkflow, accountClosedSignal, currentPeriodQuery } from './bill-cycle';
export type { BillCycleInput, BillCycleResult } from './bill-cycle';
