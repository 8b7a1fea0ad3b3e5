// A strict reader of the Prometheus text exposition format, written independently of src/metrics so
// that the tests check the format rather than the code's own idea of it.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  /** `# TYPE` per metric family. */
  types: Map<string, string>;
  /** `# HELP` per metric family, unescaped. */
  help: Map<string, string>;
  samples: Sample[];
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`);
const COMMENT = new RegExp(`^# (HELP|TYPE) (${NAME}) ?(.*)$`);

function parseValue(text: string, line: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  if (!/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value: ${line}`);
  return Number(text);
}

/** `a="x",b="y\"z"` into an object, undoing `\\`, `\"` and `\n`. */
function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const name = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(text.slice(i));
    if (!name) throw new Error(`bad label at ${i}: ${line}`);
    i += name[0].length;
    let value = "";
    for (;;) {
      const c = text[i++];
      if (c === undefined) throw new Error(`unterminated label value: ${line}`);
      if (c === '"') break;
      if (c === "\\") {
        const next = text[i++];
        if (next === "n") value += "\n";
        else if (next === "\\" || next === '"') value += next;
        else throw new Error(`bad escape \\${next}: ${line}`);
      } else if (c === "\n") throw new Error(`raw line feed in a label value: ${line}`);
      else value += c;
    }
    if (name[1] in labels) throw new Error(`repeated label ${name[1]}: ${line}`);
    labels[name[1]] = value;
    if (text[i] === ",") i++;
    else if (i !== text.length) throw new Error(`expected , after a label: ${line}`);
  }
  return labels;
}

/** Parses a whole exposition; throws on any line that is not valid text format. */
export function parseExposition(text: string): Exposition {
  const result: Exposition = { types: new Map(), help: new Map(), samples: [] };
  if (!text.endsWith("\n")) throw new Error("an exposition ends with a line feed");
  for (const line of text.slice(0, -1).split("\n")) {
    if (line === "") continue;
    if (line.startsWith("#")) {
      const comment = COMMENT.exec(line);
      if (comment?.[1] === "TYPE") {
        if (!/^(counter|gauge|histogram|summary|untyped)$/.test(comment[3])) {
          throw new Error(`bad TYPE: ${line}`);
        }
        result.types.set(comment[2], comment[3]);
      } else if (comment?.[1] === "HELP") {
        const unescaped = comment[3].replace(/\\(\\|n)/g, (_, c) => (c === "n" ? "\n" : "\\"));
        result.help.set(comment[2], unescaped);
      }
      continue;
    }
    const sample = SAMPLE.exec(line);
    if (!sample) throw new Error(`not a sample line: ${line}`);
    result.samples.push({
      name: sample[1],
      labels: parseLabels(sample[2] ?? "", line),
      value: parseValue(sample[3], line),
    });
  }
  return result;
}

/** The samples called `name`, optionally only those whose labels include `match`. */
export function samplesOf(
  exposition: Exposition,
  name: string,
  match: Record<string, string> = {},
): Sample[] {
  return exposition.samples.filter((s) =>
    s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)
  );
}
