import type { ServiceRuntime } from '@ledgerline/platform';
import type { Db } from './persistence/sql';
import type { RechargeStarter } from './adapters/recharge-starter';
import type { CatalogClient } from './adapters/catalog-client';

export interface WalletsDeps {
  db: Db;
  rechargeStarter: RechargeStarter | null;
  catalog: CatalogClient | null;
}

/** Built in `background` (before the server starts), found again by request contexts. */
const byRuntime = new WeakMap<ServiceRuntime, WalletsDeps>();
export const setDeps = (runtime: ServiceRuntime, deps: WalletsDeps): void => void byRuntime.set(runtime, deps);
export function depsOf(runtime: ServiceRuntime): WalletsDeps {
  const deps = byRuntime.get(runtime);
  if (!deps) throw new Error('wallets: dependencies not initialised');
  return deps;
}
