// On its own so the CLI can check --source without loading the importer (and the platform with it).
import { MAX_SOURCE_LENGTH } from '../application/record-usage';

/**
 * The source a run sends rows under (`source`, the CLI's `--source`), as usage stores it: trimmed.
 * Refused, naming `name`, if usage would not store it as given: empty or blank (usage would take
 * `api`), longer than its column, or with a NUL.
 */
export function sourceOption(name: string, value: string): string {
  const source = value.trim();
  if (source === '') throw new Error(`${name} must not be empty (usage would store the rows under "api"); leave it out for csv:<file name>`);
  if (source.length > MAX_SOURCE_LENGTH) throw new Error(`${name} is longer than ${MAX_SOURCE_LENGTH} characters (got ${source.length})`);
  if (source.includes('\u0000')) throw new Error(`${name} contains a NUL character`);
  return source;
}
