// The Prometheus text exposition format (version 0.0.4): names, escaping and one sample line.

/** The Content-Type of a /metrics answer. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** True for a valid metric name. */
export function isMetricName(name: string): boolean {
  return METRIC_NAME.test(name);
}

/** True for a label name a metric may declare (`__` is reserved, `le` belongs to histograms). */
export function isLabelName(name: string): boolean {
  return LABEL_NAME.test(name) && !name.startsWith("__");
}

/** A label value between double quotes: backslash, double quote and line feed are escaped. */
export function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** HELP text: backslash and line feed are escaped (a double quote is not). */
export function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

/** A sample value as Prometheus reads it: `+Inf`, `-Inf`, `NaN` or a decimal number. */
export function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  if (Number.isNaN(value)) return "NaN";
  return String(value);
}

/** One sample line: `name{a="x",b="y"} value`, labels in the order given. */
export function sampleLine(name: string, labels: [string, string][], value: number): string {
  const body = labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",");
  return `${name}${body ? `{${body}}` : ""} ${formatValue(value)}`;
}
