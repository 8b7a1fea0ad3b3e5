// The series of one metric: its state per combination of label values.

/** One value per declared label name. */
export type Labels<L extends string> = { readonly [K in L]: string };

/** A map from label values to a series' state, in the metric's label order. */
export function seriesOf<L extends string, S>(
  name: string,
  labelNames: readonly L[],
  init: () => S,
) {
  const series = new Map<string, { values: string[]; state: S }>();
  if (labelNames.length === 0) series.set("[]", { values: [], state: init() });
  return {
    get(labels: Labels<L>): S {
      const given = Object.keys(labels);
      const values = labelNames.map((l) => labels[l]);
      if (given.length !== labelNames.length || values.some((v) => typeof v !== "string")) {
        throw new TypeError(`${name} takes exactly the labels [${labelNames.join(", ")}]`);
      }
      const key = JSON.stringify(values);
      let entry = series.get(key);
      if (!entry) series.set(key, entry = { values, state: init() });
      return entry.state;
    },
    /** Every series with its labels as pairs, sorted by label values so renders are stable. */
    sorted(): { labels: [string, string][]; state: S }[] {
      return [...series.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map((
        [, { values, state }],
      ) => ({ labels: labelNames.map((l, i) => [l, values[i]] as [string, string]), state }));
    },
  };
}
