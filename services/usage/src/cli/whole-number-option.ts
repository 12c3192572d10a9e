// On its own so the CLI can check its count options without loading the importer (and the platform with it).

/**
 * A count option (`batchSize`, the CLI's `--batch-size`): a whole number from 1 to `max`, given
 * as a number or as the text typed; anything else throws, naming `name`.
 */
export function wholeNumberOption(name: string, value: number | string, max: number): number {
  const n = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > max) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : String(value);
    throw new Error(`${name} must be a whole number from 1 to ${max} (got ${shown})`);
  }
  return n;
}
