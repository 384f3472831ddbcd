import { createMetrics, exportedNames } from '../../src/metrics';
import { dashboardQueries, metricNames, readDashboard, TEMPORAL_METRICS_ON_DASHBOARD } from '../support/dashboard';

// The Grafana dashboard in deploy/grafana/ is valid JSON and reads only metrics Herald exports:
// its own (from the registry every process builds) and the Temporal worker's (which the
// metrics test finds in a real scrape).

const own = new Set(exportedNames(createMetrics({ processMetrics: true }).registry));
const exported = new Set([...own, ...TEMPORAL_METRICS_ON_DASHBOARD]);

test('it is a Grafana dashboard: panels with unique ids, every graph querying the chosen Prometheus', () => {
  const dashboard = readDashboard();
  expect(dashboard.uid).toBe('herald-overview');
  const ids = dashboard.panels.map((p) => p.id);
  expect(new Set(ids).size).toBe(ids.length);
  const graphs = dashboard.panels.filter((p) => p.type !== 'row');
  expect(graphs.length).toBeGreaterThanOrEqual(15);
  for (const panel of graphs) {
    expect(panel.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
    expect(panel.targets?.length).toBeGreaterThan(0);
  }
});

test.each(dashboardQueries())('%s reads only metrics Herald exports', (expr) => {
  const names = metricNames(expr);
  expect(names.length).toBeGreaterThan(0);
  for (const name of names) expect([name, exported.has(name)]).toEqual([name, true]);
});

test("every one of Herald's own metrics is on the dashboard", () => {
  const read = new Set(
    dashboardQueries()
      .flatMap(metricNames)
      .map((n) => n.replace(/_(bucket|sum|count)$/, '')),
  );
  const families = createMetrics()
    .registry.getMetricsAsArray()
    .map((m) => m.name);
  expect(families.filter((name) => !read.has(name))).toEqual([]);
});

test('the guard catches a query of a metric nobody exports', () => {
  expect(metricNames('rate(herald_emails_bounced_total[5m])').every((n) => exported.has(n))).toBe(false);
});
