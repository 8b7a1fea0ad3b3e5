// Whether Deno exports trace spans, read from the environment exactly as Deno 2.9 reads it.

type OtelEnv = { OTEL_DENO?: string; OTEL_DENO_TRACING?: string; OTEL_SDK_DISABLED?: string };

/**
 * A boolean OTEL variable as Deno reads it (`otel_var` in cli/args/flags.rs): "true" or "false"
 * in any ASCII letter case, untrimmed; anything else is ignored with a warning, as if unset.
 */
function denoFlag(value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (/^true$/i.test(value)) return true;
  if (/^false$/i.test(value)) return false;
  return undefined;
}

/**
 * Deno's `tracing_enabled`: OTEL_SDK_DISABLED=true turns everything off; otherwise
 * OTEL_DENO_TRACING decides when it is a boolean, and OTEL_DENO when it is not. So
 * `OTEL_DENO_TRACING=true` traces alone, and `OTEL_DENO_TRACING=" false"` does not stop it.
 */
export function denoExportsSpans(env: OtelEnv): boolean {
  if (denoFlag(env.OTEL_SDK_DISABLED) === true) return false;
  return denoFlag(env.OTEL_DENO_TRACING) ?? denoFlag(env.OTEL_DENO) ?? false;
}
