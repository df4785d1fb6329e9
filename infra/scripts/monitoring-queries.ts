/**
 * Every PromQL query in the deployment files: the alert rules (infra/monitoring/alerts.yml), the
 * Grafana dashboard (infra/monitoring/grafana-dashboard.json) and the worker's scaling triggers
 * (infra/k8s/worker.yaml). test/e2e/deployment.test.ts checks their metric names against what the
 * processes expose; run as a script, this prints the dashboard's and the triggers' queries as a
 * Prometheus rules file, so `promtool check rules` parses them as it parses the alerts
 * (infra/scripts/validate-infra.sh).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

/** The repository's infra/ folder, from the sources (tsx) only: dist/ has no YAML or JSON. */
const INFRA = path.resolve(__dirname, '..');

export interface Query {
  /** Where it is written, for messages: `alerts.yml ScimOutboxStalled`. */
  readonly source: string;
  readonly expr: string;
}

/** Reads every YAML document of an infra/ file (a manifest may hold several). */
export function readYamlDocuments(relativePath: string): unknown[] {
  const text = readFileSync(path.join(INFRA, relativePath), 'utf8');
  return parseAllDocuments(text, { merge: true }).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${relativePath}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS();
  });
}

interface RulesFile {
  readonly groups: readonly { readonly rules: readonly { readonly alert?: string; readonly record?: string; readonly expr: string }[] }[];
}

interface DashboardPanel {
  readonly title?: string;
  readonly targets?: readonly { readonly refId: string; readonly expr: string }[];
  /** A collapsed row keeps its panels inside it. */
  readonly panels?: readonly DashboardPanel[];
}

interface Manifest {
  readonly kind?: string;
  readonly spec?: { readonly triggers?: readonly { readonly type: string; readonly metadata: { readonly query?: string } }[] };
}

export function alertQueries(): Query[] {
  const [rules] = readYamlDocuments('monitoring/alerts.yml') as RulesFile[];
  return rules.groups.flatMap((group) => group.rules.map((rule) => ({ source: `alerts.yml ${rule.alert ?? rule.record}`, expr: rule.expr })));
}

/** Grafana's interval variables, as a fixed range a plain Prometheus accepts. */
const GRAFANA_RANGES = /\$__(?:rate_interval|interval|range)\b/g;

export function dashboardQueries(): Query[] {
  const dashboard = JSON.parse(readFileSync(path.join(INFRA, 'monitoring/grafana-dashboard.json'), 'utf8')) as { panels: DashboardPanel[] };
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  return panels.flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({
      source: `grafana-dashboard.json "${panel.title}" ${target.refId}`,
      expr: target.expr.replace(GRAFANA_RANGES, '5m'),
    })),
  );
}

export function scalingQueries(): Query[] {
  const docs = readYamlDocuments('k8s/worker.yaml') as (Manifest | null)[];
  return docs
    .filter((doc) => doc?.kind === 'ScaledObject')
    .flatMap((scaled) =>
      (scaled?.spec?.triggers ?? [])
        .filter((trigger) => trigger.type === 'prometheus')
        .map((trigger, i) => ({ source: `worker.yaml ScaledObject trigger ${i + 1}`, expr: String(trigger.metadata.query) })),
    );
}

/** Words of PromQL that are not metric names when they stand without a parenthesis after them. */
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/**
 * The metric names a PromQL expression selects. Strings, label matchers, ranges and label lists
 * (`by (…)`, `on (…)`) are removed first; then a word followed by `(` is a function or an
 * aggregation, and any other word that is not a keyword names a metric.
 */
export function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\boffset\s+-?[\w.]+/g, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/(?<![\w.$])([A-Za-z_:][\w:]*)(\s*\()?/g)) {
    if (m[2] === undefined && !KEYWORDS.has(m[1].toLowerCase())) names.add(m[1]);
  }
  return [...names];
}

/** Series Prometheus makes itself, which no application registers. */
const PROMETHEUS_SERIES = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_series_added', 'ALERTS', 'ALERTS_FOR_STATE']);

/**
 * The metric names a Prometheus text exposition offers to queries, from its `# TYPE` lines: a
 * histogram is queried through `_bucket`, `_sum` and `_count`, a summary through its name,
 * `_sum` and `_count`.
 */
export function exposedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    else if (type === 'summary') for (const suffix of ['', '_sum', '_count']) names.add(name + suffix);
    else names.add(name);
  }
  return names;
}

/** `source: name` for each metric a query selects that neither the processes nor Prometheus expose. */
export function unknownMetrics(queries: readonly Query[], exposed: ReadonlySet<string>): string[] {
  return queries.flatMap((q) => metricNamesIn(q.expr).flatMap((name) => (exposed.has(name) || PROMETHEUS_SERIES.has(name) ? [] : [`${q.source}: ${name}`])));
}

if (require.main === module) {
  // Recording rules only to get each expression parsed; the names are never evaluated.
  const rules = [...dashboardQueries(), ...scalingQueries()].map((q, i) => ({ record: `validate:query_${i + 1}`, expr: q.expr }));
  process.stdout.write(`${JSON.stringify({ groups: [{ name: 'dashboard-and-scaling-queries', rules }] }, null, 2)}\n`);
}
