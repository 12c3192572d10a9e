import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_LINES, MIN_MAX_LINES, lineCacheSize } from './line-directory';

describe('USAGE_LINE_CACHE_SIZE', () => {
  it('defaults when unset or empty, and takes a whole number at or above the minimum', () => {
    expect(lineCacheSize(undefined)).toBe(DEFAULT_MAX_LINES);
    expect(lineCacheSize(' ')).toBe(DEFAULT_MAX_LINES);
    expect(lineCacheSize(String(MIN_MAX_LINES))).toBe(MIN_MAX_LINES);
    expect(lineCacheSize('1000000')).toBe(1_000_000);
  });

  it('refuses a size too small to hold a few batches of lines, or not a whole number, naming the setting', () => {
    for (const bad of [String(MIN_MAX_LINES - 1), '0', '-5', '12.5e3', 'lots', '30000.5']) {
      expect(() => lineCacheSize(bad)).toThrow(/USAGE_LINE_CACHE_SIZE must be a whole number of at least 20000/);
    }
  });
});
