import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { parser as promql } from '@prometheus-io/lezer-promql';

// The alert rules operators load must name metrics the services really export: a renamed metric
// would otherwise silence its alert without anyone noticing.
const root = path.resolve(import.meta.dirname, '../..');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'test' ? [] : sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

const exported = new Set([
  ...sourceFiles(path.join(root, 'services')).flatMap((f) => [...fs.readFileSync(f, 'utf8').matchAll(/name: '(ledgerline_[a-z_]+)'/g)].map((m) => m[1]!)),
  // The worker's counters go through Temporal's metricMeter, whose Prometheus exporter adds `_total` (src/worker-metrics.ts).
  ...sourceFiles(path.join(root, 'workflows', 'src')).flatMap((f) => [...fs.readFileSync(f, 'utf8').matchAll(/createCounter\('(ledgerline_[a-z_]+)'/g)].map((m) => `${m[1]!}_total`)),
]);
const rules = parse(fs.readFileSync(path.join(root, 'deploy/prometheus/alerts.yml'), 'utf8')) as { groups: { name: string; rules: { alert: string; expr: string; labels?: { severity?: string }; annotations?: { summary?: string } }[] }[] };

describe('deploy/prometheus/alerts.yml', () => {
  it('finds the services’ metrics in their source', () => {
    expect(exported).toContain('ledgerline_usage_rejected_total');
    expect(exported).toContain('ledgerline_outbox_oldest_pending_seconds');
    expect(exported).toContain('ledgerline_dunning_suspensions_stuck_total');
  });

  const all = rules.groups.flatMap((g) => g.rules);
  it.each(all.map((r) => [r.alert, r] as const))('%s is valid PromQL over exported metrics, with a severity and a summary', (_name, rule) => {
    // Prometheus' own PromQL grammar (the one its UI uses): a syntax error becomes an error node.
    const errors: number[] = [];
    promql.parse(rule.expr).iterate({ enter: (n) => void (n.type.isError && errors.push(n.from)) });
    expect(errors, `syntax error in ${rule.alert} at ${errors[0]}`).toEqual([]);
    const named = [...rule.expr.matchAll(/ledgerline_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, ''));
    expect(named.length).toBeGreaterThan(0);
    for (const metric of named) expect(exported, `${metric} in ${rule.alert}`).toContain(metric);
    expect(['critical', 'warning']).toContain(rule.labels?.severity);
    expect(rule.annotations?.summary).toBeTruthy();
  });

  it('gives every alert a unique name', () => {
    expect(new Set(all.map((r) => r.alert)).size).toBe(all.length);
  });
});
