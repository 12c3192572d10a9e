import { Decimal, minorUnits } from '@ledgerline/contracts';

/** A one-off charge still due (waiting for a top-up) when its wallet is settled. */
export interface DueAtSettlement {
  id: string;
  amount: Decimal;
}

/** What the settlement does with one due charge: `collected` from the wallet, the rest `refused` (handed to finance). */
export interface NettedCharge {
  id: string;
  amount: Decimal;
  collected: Decimal;
  refused: Decimal;
}

/**
 * Nets a closed wallet's balance against the charges still due at its settlement, as a serious
 * billing system nets a closing account: the money the wallet holds pays what the customer owes
 * before anything is paid out, so the customer is neither refunded money and invoiced for more,
 * nor left owing what their own balance covered. Oldest first (as a top-up pays them); only money
 * the wallet holds (never an overdraft: the account is closed), in whole minor units of `currency`,
 * so what is refused (billed elsewhere) and what is paid out stay payable amounts; a sub-minor rest
 * stays on the wallet for the settlement's rounding write-off. A charge the balance covers whole is
 * collected whole (refused 0). Returns each charge's split in the order given, and the balance left.
 */
export function netDueCharges(balance: Decimal, due: readonly DueAtSettlement[], currency: string): { charges: NettedCharge[]; left: Decimal } {
  let available = Decimal.max(balance, 0).toDecimalPlaces(minorUnits(currency), Decimal.ROUND_DOWN);
  let left = balance;
  const charges = due.map((c) => {
    const collected = c.amount.lessThanOrEqualTo(0) ? new Decimal(0) : Decimal.min(c.amount, available);
    available = available.minus(collected);
    left = left.minus(collected);
    return { id: c.id, amount: c.amount, collected, refused: c.amount.minus(collected) };
  });
  return { charges, left };
}
