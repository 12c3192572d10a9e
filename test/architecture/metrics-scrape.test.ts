import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

// In production every /metrics wants METRICS_TOKEN as a bearer token: the manifests must give it to
// every pod Prometheus scrapes, and the scrape configs we ship must send it.
const root = path.resolve(import.meta.dirname, '../..');
const docs = (file: string) => parseAllDocuments(fs.readFileSync(path.join(root, file), 'utf8')).map((d) => d.toJS() as any);

const deployments = docs('deploy/k8s/services.yaml').filter((d) => d?.kind === 'Deployment');
const scraped = deployments.filter((d) => d.spec.template.metadata.annotations?.['prometheus.io/scrape'] === 'true');

describe('/metrics scraping with METRICS_TOKEN', () => {
  it('the secret template has METRICS_TOKEN, and every scraped pod gets it', () => {
    const secret = docs('deploy/k8s/config.yaml').find((d) => d?.kind === 'Secret' && d.metadata.name === 'ledgerline-secrets');
    expect(Object.keys(secret.stringData)).toContain('METRICS_TOKEN');
    expect(scraped.map((d) => d.metadata.name).sort()).toEqual(['catalog', 'events-hub', 'gateway', 'invoicing', 'subscribers', 'usage', 'wallets']);
    for (const d of scraped) {
      const sources = d.spec.template.spec.containers[0].envFrom.map((e: any) => e.secretRef?.name);
      expect(sources, d.metadata.name).toContain('ledgerline-secrets');
    }
  });

  it('the plain Prometheus job sends a bearer token from a file', () => {
    const [config] = docs('deploy/prometheus/scrape-ledgerline.yml');
    const job = config.scrape_configs.find((j: any) => j.job_name === 'ledgerline');
    expect(job.authorization).toEqual({ type: 'Bearer', credentials_file: expect.stringMatching(/^\/etc\/prometheus\/secrets\//) });
  });

  it('the PodMonitor selects every scraped pod and sends METRICS_TOKEN from ledgerline-secrets', () => {
    const [monitor] = docs('deploy/prometheus/podmonitor.yaml');
    expect(monitor.kind).toBe('PodMonitor');
    expect([...monitor.spec.selector.matchExpressions[0].values].sort()).toEqual(scraped.map((d) => d.metadata.name).sort());
    for (const endpoint of monitor.spec.podMetricsEndpoints) {
      expect(endpoint.authorization).toEqual({ type: 'Bearer', credentials: { name: 'ledgerline-secrets', key: 'METRICS_TOKEN' } });
    }
    for (const d of scraped)
      expect(
        d.spec.template.spec.containers[0].ports.map((p: any) => p.name),
        d.metadata.name,
      ).toContain('http');
  });

  it('the worker is scraped on its own metrics port (Temporal\'s exporter, no token), reachable from namespace monitoring only', () => {
    const worker = deployments.find((d) => d.metadata.name === 'worker');
    const container = worker.spec.template.spec.containers[0];
    const address = container.env.find((e: any) => e.name === 'WORKER_METRICS_ADDRESS')?.value as string;
    const port = container.ports.find((p: any) => p.name === 'metrics')?.containerPort;
    expect(Number(address.split(':').pop())).toBe(port);
    const policy = docs('deploy/k8s/network-policy.yaml').find((d) => d?.kind === 'NetworkPolicy' && d.spec.podSelector.matchLabels?.['app.kubernetes.io/name'] === 'worker');
    expect(policy.spec.ingress).toEqual([{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ port: 'metrics', protocol: 'TCP' }] }]);
    const monitor = docs('deploy/prometheus/podmonitor.yaml').find((d) => d?.metadata?.name === 'ledgerline-worker');
    expect(monitor.spec).toEqual({ selector: { matchLabels: { 'app.kubernetes.io/name': 'worker' } }, podMetricsEndpoints: [{ port: 'metrics', path: '/metrics' }] });
    const [config] = docs('deploy/prometheus/scrape-ledgerline.yml');
    expect(config.scrape_configs.find((j: any) => j.job_name === 'ledgerline-worker').relabel_configs[0]).toMatchObject({ action: 'keep', regex: 'worker;metrics' });
  });
});
