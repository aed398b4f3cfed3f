/**
 * The dashboard only displays its inputs, and every name in them (experts, metric ids, layer
 * groups, methods, definitions) comes from files: escape them all once, consistently (a key and
 * every reference to it map to the same text), before anything reaches ink.
 */
import type { MetricBreakdown, MetricsReport, Prediction, PredictorFile } from '../types.js';
import { escapeControl } from '../util/terminal.js';

const esc = escapeControl;

function rekey<T>(o: Record<string, T> | undefined, value: (v: T) => T = (v) => v): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [k, v] of Object.entries(o ?? {})) out[esc(k)] = value(v);
  return out;
}

function breakdown(b: MetricBreakdown | undefined): MetricBreakdown {
  return b ? { ...b, groups: b.groups.map(esc), values: rekey(b.values) } : (b as unknown as MetricBreakdown);
}

export function escapeMetricsReport(m: MetricsReport): MetricsReport {
  return {
    ...m,
    experts: m.experts.map(esc),
    definitions: rekey(m.definitions, (d) => ({ ...d, id: esc(d.id), label: esc(d.label), unit: esc(d.unit), description: esc(d.description), aggregation: esc(d.aggregation) })),
    metrics: rekey(m.metrics),
    perLayer: breakdown(m.perLayer),
    perTensor: breakdown(m.perTensor),
    warnings: (m.warnings ?? []).map(esc),
  };
}

export function escapePredictions(ps: Prediction[] | undefined): Prediction[] | undefined {
  return ps?.map((p) => ({ ...p, a: esc(p.a), b: esc(p.b), method: esc(p.method), drivers: p.drivers.map((d) => ({ ...d, metric: esc(d.metric) })) }));
}

export function escapePredictor(pf: PredictorFile | undefined): PredictorFile | undefined {
  return pf && { ...pf, outcome: esc(pf.outcome ?? ''), methods: rekey(pf.methods) };
}
