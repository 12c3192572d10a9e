/**
 * The money the wallets ledger takes for a usage charge, as usage estimates it. One rule for the
 * live pipeline, live usage and the re-rate: the estimate of an event partly covered by an
 * allowance is what the ledger will charge, so a re-rate with the same catalog finds nothing to
 * adjust. The rule is rating's (`ledgerMoneyFor`): wallets' decideCharge and plan simulation take
 * the same function, so usage, the ledger and what a customer was shown cannot drift apart.
 */
export { chargeAmountOf, ledgerMoneyFor, type LedgerRounding as Rounding } from '@ledgerline/rating';
