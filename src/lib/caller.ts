// Who is asking: what every writing service takes from the request, for its rules and its audit.

/** The JWT's `sub` and `iss`, as verified; null when the token carried none. */
export interface Actor {
  subject: string | null;
  issuer: string | null;
}

/**
 * The caller of a writing operation: the tenant the verified token speaks for, who it names, and
 * the request id, all of which the audit trail records with the change.
 */
export interface Caller {
  tenantId: string;
  actor: Actor;
  requestId: string;
}
