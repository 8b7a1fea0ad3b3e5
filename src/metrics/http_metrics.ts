// The HTTP metrics every request feeds: a counter by method, route pattern and status, and a
// duration histogram by method and route pattern.
import { DEFAULT_BUCKETS, type MetricsRegistry } from "./registry.ts";

/** What the request log measures once per request. */
export interface RequestMeasurement {
  method: string;
  /** The matched route pattern (`/v1/discovery/aggregator-connections/:id`), never the raw path. */
  route: string;
  status: number;
  seconds: number;
}

/** Records one answered request. */
export type RequestObserver = (measurement: RequestMeasurement) => void;

/** Request durations in seconds: 1 ms (a health check) to 10 s (a slow vendor call). */
export const HTTP_DURATION_BUCKETS = [0.001, 0.0025, ...DEFAULT_BUCKETS];

// Any other method a client sends is counted as OTHER, so a label cannot grow without bound.
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** Declares `matcher_http_requests_total` and `matcher_http_request_duration_seconds`. */
export function httpMetrics(registry: MetricsRegistry): RequestObserver {
  const requests = registry.counter({
    name: "matcher_http_requests_total",
    help: "HTTP requests answered, by method, route pattern and status code.",
    labelNames: ["method", "route", "status"],
  });
  const duration = registry.histogram({
    name: "matcher_http_request_duration_seconds",
    help: "Time from receiving a request to having its response, by method and route pattern.",
    labelNames: ["method", "route"],
    buckets: HTTP_DURATION_BUCKETS,
  });
  return function observeRequest({ method, route, status, seconds }) {
    const m = METHODS.has(method) ? method : "OTHER";
    requests.inc({ method: m, route, status: String(status) });
    duration.observe({ method: m, route }, seconds);
  };
}
