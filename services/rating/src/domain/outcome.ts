/**
 * From "which rules fired" to "what happens to the event". This is the part of rating that
 * depends only on the facts the rules read, so it is what the cached rater stores.
 *
 * Resolution, with fired rules ordered by priority (high first) then document order:
 * - any `deny` → DENIED with the first deny's reason;
 * - else the first `rate` is the tariff (higher priority rate rules override lower ones; two at
 *   the same priority are a plan error the validator reports, and are resolved by document
 *   order with a warning);
 * - no `rate` → DENIED with reason NO_TARIFF;
 * - every `surcharge`, `discount`, `notify` and `offer` that fired applies.
 */
import type { AdjustmentParams, DenyParams, NotifyParams, OfferParams, RuleEvent } from './plan-types';
import type { CompiledTariff } from './pricing';

export interface CompiledRule {
  index: number;
  name: string;
  priority: number;
  event: RuleEvent;
  tariff?: CompiledTariff;
}

export interface TraceEntry {
  rule: string;
  type: RuleEvent['type'];
  params: RuleEvent['params'];
}

export interface RuleOutcome {
  deny?: { rule: string; reason: string; message?: string };
  tariff?: CompiledTariff;
  surcharges: Array<{ rule: string; params: AdjustmentParams }>;
  discounts: Array<{ rule: string; params: AdjustmentParams }>;
  notifications: Array<{ rule: string; params: NotifyParams }>;
  offers: Array<{ rule: string; params: OfferParams }>;
  trace: TraceEntry[];
  warnings: string[];
}

export function byPriorityThenOrder(a: CompiledRule, b: CompiledRule): number {
  return b.priority - a.priority || a.index - b.index;
}

export function resolveOutcome(fired: CompiledRule[]): RuleOutcome {
  const ordered = [...fired].sort(byPriorityThenOrder);
  const outcome: RuleOutcome = { surcharges: [], discounts: [], notifications: [], offers: [], trace: [], warnings: [] };
  let rateRule: CompiledRule | undefined;
  for (const rule of ordered) {
    const { event } = rule;
    outcome.trace.push({ rule: rule.name, type: event.type, params: event.params });
    switch (event.type) {
      case 'deny': {
        const params = event.params as DenyParams;
        outcome.deny ??= { rule: rule.name, reason: params.reason, message: params.message };
        break;
      }
      case 'rate':
        if (rateRule === undefined) {
          rateRule = rule;
          outcome.tariff = rule.tariff;
        } else if (rateRule.priority === rule.priority) {
          outcome.warnings.push(
            `AMBIGUOUS_TARIFF: rules "${rateRule.name}" and "${rule.name}" both fired at priority ${rule.priority}; used "${rateRule.name}"`,
          );
        }
        break;
      case 'surcharge':
        outcome.surcharges.push({ rule: rule.name, params: event.params });
        break;
      case 'discount':
        outcome.discounts.push({ rule: rule.name, params: event.params });
        break;
      case 'notify':
        outcome.notifications.push({ rule: rule.name, params: event.params });
        break;
      case 'offer':
        outcome.offers.push({ rule: rule.name, params: event.params });
        break;
    }
  }
  // Cached outcomes are shared by many results: nobody may change them.
  for (const list of [outcome.surcharges, outcome.discounts, outcome.notifications, outcome.offers, outcome.trace, outcome.warnings]) {
    for (const item of list) if (typeof item === 'object') Object.freeze(item);
    Object.freeze(list);
  }
  return Object.freeze(outcome);
}
