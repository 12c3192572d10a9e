import type { Problem } from './problem';

export type ParsedDocument = { ok: true; value: unknown } | { ok: false; problem: Problem };

/** Parses a JSON text; on a syntax error reports where (line, column, offset) in a person's terms. */
export function parseJsonDocument(text: string): ParsedDocument {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    const position = /position (\d+)/.exec(detail);
    let where = '';
    if (position) {
      const offset = Number(position[1]);
      const before = text.slice(0, offset);
      const line = before.split('\n').length;
      const column = offset - before.lastIndexOf('\n');
      where = ` at line ${line}, column ${column} (position ${offset})`;
    }
    return {
      ok: false,
      problem: {
        pointer: '',
        code: 'INVALID_JSON',
        message: `The file is not valid JSON${where}: ${detail}. Check for a missing comma, quote or bracket near there.`,
      },
    };
  }
}
