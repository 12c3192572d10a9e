import { describe, expect, it } from 'vitest';
import { readConfig } from './main';

describe('worker settings: the dunning hold sweep', () => {
  it('runs every 5 minutes by default and waits 7 days before lifting the holds of a run Temporal cannot find', () => {
    expect(readConfig({}).dunningHoldSweep).toEqual({ enabled: true, intervalMs: 300_000, missingGraceMs: 604_800_000 });
  });

  it('is tuned and switched off by DUNNING_HOLD_SWEEP*', () => {
    expect(readConfig({ DUNNING_HOLD_SWEEP: 'off' }).dunningHoldSweep.enabled).toBe(false);
    expect(readConfig({ DUNNING_HOLD_SWEEP_INTERVAL_MS: '60000', DUNNING_HOLD_SWEEP_MISSING_GRACE_MS: '0' }).dunningHoldSweep).toEqual({ enabled: true, intervalMs: 60_000, missingGraceMs: 0 });
  });

  it('refuses a value it cannot use, naming the variable', () => {
    expect(() => readConfig({ DUNNING_HOLD_SWEEP: 'no' })).toThrow(/DUNNING_HOLD_SWEEP=no/);
    expect(() => readConfig({ DUNNING_HOLD_SWEEP_INTERVAL_MS: '5m' })).toThrow(/DUNNING_HOLD_SWEEP_INTERVAL_MS=5m/);
    expect(() => readConfig({ DUNNING_HOLD_SWEEP_INTERVAL_MS: '0' })).toThrow(/at least 1000/);
    expect(() => readConfig({ DUNNING_HOLD_SWEEP_MISSING_GRACE_MS: '-1' })).toThrow(/DUNNING_HOLD_SWEEP_MISSING_GRACE_MS/);
  });
});

describe('worker settings: the bill-cycle bridge', () => {
  it('is on by default, switched off by BILL_CYCLE_BRIDGE=off, and refuses anything else naming the variable', () => {
    expect(readConfig({}).billCycleBridge).toBe(true);
    expect(readConfig({ BILL_CYCLE_BRIDGE: 'on' }).billCycleBridge).toBe(true);
    expect(readConfig({ BILL_CYCLE_BRIDGE: 'off' }).billCycleBridge).toBe(false);
    expect(() => readConfig({ BILL_CYCLE_BRIDGE: 'false' })).toThrow(/BILL_CYCLE_BRIDGE=false: give "on" or "off"/);
  });
});

describe('worker settings: the bill-cycle backfill at start', () => {
  it('is off by default, switched on by BILL_CYCLE_BACKFILL=on, refuses anything else, and refuses on without the bridge', () => {
    expect(readConfig({}).billCycleBackfill).toBe(false);
    expect(readConfig({ BILL_CYCLE_BACKFILL: 'on' }).billCycleBackfill).toBe(true);
    expect(readConfig({ BILL_CYCLE_BACKFILL: 'off', BILL_CYCLE_BRIDGE: 'off' }).billCycleBackfill).toBe(false);
    expect(() => readConfig({ BILL_CYCLE_BACKFILL: 'yes' })).toThrow(/BILL_CYCLE_BACKFILL=yes: give "on" or "off"/);
    expect(() => readConfig({ BILL_CYCLE_BACKFILL: 'on', BILL_CYCLE_BRIDGE: 'off' })).toThrow(/BILL_CYCLE_BACKFILL=on needs BILL_CYCLE_BRIDGE=on/);
  });
});

describe('worker settings: the service token in production', () => {
  it('refuses to start without a real SYSTEM token when it calls the graph (deploy/k8s ships `change-me`)', () => {
    expect(() => readConfig({ NODE_ENV: 'production', GATEWAY_URL: 'http://gateway/graphql' })).toThrow(/^LEDGERLINE_SERVICE_TOKEN: /);
    expect(() => readConfig({ NODE_ENV: 'production', GATEWAY_URL: 'http://gateway/graphql', LEDGERLINE_SERVICE_TOKEN: 'change-me' })).toThrow(/LEDGERLINE_SERVICE_TOKEN/);
    expect(readConfig({ NODE_ENV: 'production', GATEWAY_URL: 'http://gateway/graphql', LEDGERLINE_SERVICE_TOKEN: 'eyJhbGciOiJIUzI1NiJ9.e30.x' }).serviceToken).toBe('eyJhbGciOiJIUzI1NiJ9.e30.x');
    expect(readConfig({ GATEWAY_URL: 'http://gateway/graphql' }).serviceToken).toBeUndefined(); // development: calls as ANONYMOUS
  });
});

describe('worker settings: the Prometheus endpoint', () => {
  it('is off unless WORKER_METRICS_ADDRESS gives host:port, and refuses anything else naming the variable', () => {
    expect(readConfig({}).metricsAddress).toBeUndefined();
    expect(readConfig({ WORKER_METRICS_ADDRESS: 'off' }).metricsAddress).toBeUndefined();
    expect(readConfig({ WORKER_METRICS_ADDRESS: '0.0.0.0:9464' }).metricsAddress).toBe('0.0.0.0:9464');
    expect(readConfig({ WORKER_METRICS_ADDRESS: '[::1]:9464' }).metricsAddress).toBe('[::1]:9464');
    for (const bad of ['9464', ':9464', 'localhost:0', 'localhost:70000', 'http://0.0.0.0:9464']) {
      expect(() => readConfig({ WORKER_METRICS_ADDRESS: bad }), bad).toThrow(/^WORKER_METRICS_ADDRESS=.*give host:port/);
    }
  });
});
