/**
 * A json-rules-engine Engine that never runs two evaluations at once: one Engine loses results
 * when run() calls overlap, so calls are queued and run one after another.
 */
import { Engine, type RuleProperties } from 'json-rules-engine';
import { DECIMAL_OPERATORS } from '../domain/conditions';

export class SerialEngine {
  private readonly engine: Engine;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(rules: RuleProperties[]) {
    this.engine = new Engine(rules, { allowUndefinedFacts: false });
    // Replace the float comparisons with exact decimal ones (see DECIMAL_OPERATORS).
    for (const [name, compare] of Object.entries(DECIMAL_OPERATORS)) this.engine.addOperator(name, compare);
  }

  /** Names of the rules whose conditions held for these facts. */
  run(facts: Record<string, unknown>): Promise<string[]> {
    const result = this.tail.then(() => this.engine.run(facts)).then((outcome) => outcome.results.map((rule) => rule.name as string));
    this.tail = result.catch(() => undefined);
    return result;
  }
}
