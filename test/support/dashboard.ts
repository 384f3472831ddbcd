import { readFileSync } from 'node:fs';
import path from 'node:path';

// The Grafana dashboard in the repository, and the metric names its queries read.

export const DASHBOARD_PATH = path.resolve(__dirname, '../../deploy/grafana/herald-dashboard.json');

/** The Temporal SDK's worker metrics the dashboard reads; the metrics test scrapes a real worker for each. */
export const TEMPORAL_METRICS_ON_DASHBOARD = [
  'herald_temporal_workflow_task_schedule_to_start_latency_seconds_bucket',
  'herald_temporal_activity_schedule_to_start_latency_seconds_bucket',
  'herald_temporal_worker_task_slots_used',
  'herald_temporal_worker_task_slots_available',
  'herald_temporal_workflow_completed_total',
  'herald_temporal_workflow_failed_total',
  'herald_temporal_workflow_canceled_total',
  'herald_temporal_activity_execution_latency_seconds_bucket',
  'herald_temporal_local_activity_execution_latency_seconds_bucket',
  'herald_temporal_sticky_cache_size',
  'herald_temporal_sticky_cache_hit_total',
];

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Array<{ refId: string; expr: string }>;
  panels?: DashboardPanel[];
}

export function readDashboard(): {
  uid: string;
  title: string;
  panels: DashboardPanel[];
  templating: { list: Array<{ name: string; query?: unknown; definition?: string }> };
} {
  return JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8'));
}

/** Every PromQL expression of the dashboard: panel targets (rows included) and template queries. */
export function dashboardQueries(): string[] {
  const dashboard = readDashboard();
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  const templates = dashboard.templating.list.map((t) => t.definition).filter((d): d is string => typeof d === 'string');
  return [...panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)), ...templates];
}

/** The metric names a query reads: every herald_* identifier. */
export function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\bherald_[A-Za-z0-9_:]+/g)].map((m) => m[0]);
}
