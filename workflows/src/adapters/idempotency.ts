// Shared by the in-memory adapters: idempotent records and abortable hangs.
import { DomainError, ErrorCode } from '../errors';

/**
 * Results remembered by idempotency key. Same key + same request → the stored result;
 * same key + a different request → CONFLICT (CONVENTIONS rule 5).
 */
export class IdempotencyStore<T> {
  private readonly entries = new Map<string, { fingerprint: string; result: T }>();

  get(key: string, request: unknown): T | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (hit.fingerprint !== fingerprint(request)) {
      throw new DomainError(ErrorCode.CONFLICT, `idempotency key ${key} was already used with a different request`);
    }
    return hit.result;
  }

  /** The result stored under `key`, whatever the request was. */
  find(key: string): T | undefined {
    return this.entries.get(key)?.result;
  }

  put(key: string, request: unknown, result: T): T {
    this.entries.set(key, { fingerprint: fingerprint(request), result });
    return result;
  }

  get size(): number {
    return this.entries.size;
  }

  values(): T[] {
    return [...this.entries.values()].map((e) => e.result);
  }
}

function fingerprint(request: unknown): string {
  // Key order independent; the requests are flat records of strings.
  return JSON.stringify(request, Object.keys(request as object).sort());
}

/** Never settles on its own; rejects when `signal` aborts (activity cancelled or timed out). */
export function hangUntilAborted(signal: AbortSignal | undefined, what: string): Promise<never> {
  return new Promise((_, reject) => {
    if (!signal) return; // nothing can end it: a genuine hang, as a dead provider would do
    const abort = () => reject(signal.reason instanceof Error ? signal.reason : new Error(`${what} aborted`));
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
  });
}

/** Picks the outcome for this attempt from a script: a value, or a list whose last entry repeats. */
export function scripted<T>(script: T | readonly T[] | undefined, attempt: number, fallback: T): T {
  if (script === undefined) return fallback;
  if (!Array.isArray(script)) return script as T;
  if (script.length === 0) return fallback;
  return script[Math.min(attempt, script.length) - 1];
}
