// The limits on what a client sends and on how long an operation waits, from the configuration.

export interface RequestLimits {
  /** Longest a request body may take to arrive: 408 past it. */
  bodyTimeoutMs: number;
  /** Deepest nesting of arrays and objects in a JSON body: 400 beyond it. */
  maxJsonDepth: number;
  /** Longest an operation may wait for the database: 503 with Retry-After past it. */
  waitMs: number;
  /** The same for the live connection test, which waits for the vendor as well. */
  liveTestWaitMs: number;
}
