/**
 * The alert rules and the Grafana dashboard of deploy/observability/ name only metrics the service exports: each
 * `sync_*` name in their expressions must be in the registry the `run` command builds (src/app/metrics.ts, with
 * prom-client's default metrics), histograms through their _bucket / _sum / _count series.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { Metrics } from '../../src/app/metrics';

const DIR = join(__dirname, '..', '..', 'deploy', 'observability');

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules: Rule[] = (
  parse(readFileSync(join(DIR, 'alerts.yaml'), 'utf8')) as { groups: { name: string; rules: Rule[] }[] }
).groups.flatMap((g) => g.rules);
const dashboard = JSON.parse(readFileSync(join(DIR, 'grafana-dashboard.json'), 'utf8')) as {
  uid: string;
  panels: { id: number; title: string; targets: { expr: string }[] }[];
};

/** Series names of the registry the app builds: counters, gauges; histograms as their three series. */
async function exportedSeries(): Promise<Set<string>> {
  const metrics = new Metrics({ labels: { roles: 'router' } });
  const out = new Set<string>();
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    out.add(m.name);
    if (m.type.toString() === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(m.name + s);
  }
  return out;
}

const namesIn = (expr: string) => [...expr.matchAll(/\bsync_[a-z0-9_]+/g)].map((m) => m[0]);

describe('alert rules and dashboard (deploy/observability)', () => {
  it('every metric the alert rules name is exported by the service', async () => {
    const exported = await exportedSeries();
    const named = rules.flatMap((r) => namesIn(r.expr));
    expect(named.length).to.be.greaterThan(10);
    expect(named.filter((n) => !exported.has(n))).to.deep.equal([]);
  });

  it('every metric the dashboard queries is exported by the service', async () => {
    const exported = await exportedSeries();
    const named = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => namesIn(t.expr)));
    expect(named.length).to.be.greaterThan(10);
    expect(named.filter((n) => !exported.has(n))).to.deep.equal([]);
  });

  it('the name check would catch a metric the service does not export', async () => {
    const exported = await exportedSeries();
    expect(
      namesIn('rate(sync_no_such_metric_total[5m]) + sync_consumer_lag').filter((n) => !exported.has(n)),
    ).to.deep.equal(['sync_no_such_metric_total']);
  });

  it('covers slot WAL, dead letters, consumer lag, outbox backlog and parked rows, OpenCell errors, freshness, blocked partitions', () => {
    const alertMetrics = new Set(rules.flatMap((r) => namesIn(r.expr)));
    const panelMetrics = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => namesIn(t.expr))));
    for (const m of [
      'sync_replication_slot_retained_wal_bytes',
      'sync_replication_slot_active',
      'sync_dead_letters_total',
      'sync_consumer_lag',
      'sync_outbox_backlog',
      'sync_outbox_parked',
      'sync_opencell_call_duration_seconds_count',
      'sync_e2e_freshness_seconds_bucket',
      'sync_blocked_partitions',
      'sync_blocked_oldest_message_age_seconds',
    ]) {
      expect(alertMetrics.has(m), `an alert on ${m}`).to.equal(true);
      expect(panelMetrics.has(m), `a panel of ${m}`).to.equal(true);
    }
  });

  it('each alert has a unique name, a severity and a summary; each panel a unique id', () => {
    const names = rules.map((r) => r.alert);
    expect(new Set(names).size).to.equal(names.length);
    for (const r of rules) {
      expect(r.alert, r.expr).to.be.a('string');
      expect(r.labels?.severity, r.alert).to.be.oneOf(['critical', 'warning', 'info']);
      expect(r.annotations?.summary, r.alert).to.be.a('string');
      if (r.for !== undefined) expect(r.for, r.alert).to.match(/^\d+[smh]$/);
    }
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).to.equal(ids.length);
    expect(dashboard.uid).to.equal('odoo-opencell-sync');
  });
});
