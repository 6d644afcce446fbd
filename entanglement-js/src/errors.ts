/**
 * Typed errors of the client: every promise of an update, create or delete rejects with one of
 * these (check with `instanceof` or by `code`).
 */
export type ErrorCode =
  | 'refused'
  | 'conflict'
  | 'not-found'
  | 'owner-unreachable'
  | 'outcome-unknown'
  | 'not-sent'
  | 'queue-full'
  | 'connection-refused';

/** The base class: `code` says which kind, `message` what happened, naming the object. */
export class EntanglementError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * The owner, or a node on the way, refused the request: `reason` is the protocol's reason
 * (`POLICY`, `NOT_OWNER`, `WRONG_TYPE`, `UNKNOWN_ATTRIBUTE`, `CONSTRAINT_VIOLATION`, ...) and
 * `message` the human-readable explanation (a policy's own reason, for `POLICY`).
 */
export class RefusedError extends EntanglementError {
  constructor(readonly reason: string, message: string) {
    super('refused', message);
  }
}

/** The object changed at its owner since the version the request was made from (or exists, for a create). */
export class ConflictError extends EntanglementError {
  constructor(message: string) {
    super('conflict', message);
  }
}

/** The owner does not have the object (an update or delete). */
export class NotFoundError extends EntanglementError {
  constructor(message: string) {
    super('not-found', message);
  }
}

/**
 * The owner could not be reached (no route from the node, or its database failed while deciding)
 * for as long as the request was allowed to take (`requestTimeoutMs`): it was not applied by the
 * attempts that got this answer.
 */
export class OwnerUnreachableError extends EntanglementError {
  constructor(message: string) {
    super('owner-unreachable', message);
  }
}

/**
 * The request was sent but no answer came in time (`requestTimeoutMs`), or the client was closed
 * while it was on its way: the owner may or may not have applied it. Read the object again.
 */
export class OutcomeUnknownError extends EntanglementError {
  constructor(message: string) {
    super('outcome-unknown', message);
  }
}

/** The request was never sent (the client was closed while it waited in the offline queue). */
export class NotSentError extends EntanglementError {
  constructor(message: string) {
    super('not-sent', message);
  }
}

/** The offline queue is full (`maxQueued`): the new request is refused at once, nothing queued is dropped. */
export class QueueFullError extends EntanglementError {
  constructor(message: string) {
    super('queue-full', message);
  }
}

/**
 * The node refused the connection: an HTTP 401 or 403 before the upgrade (the application's
 * browser identity said no; `reason` is its answer), or the node ended the stream for a reason
 * that a new attempt would not change (close code 1008). The client does not reconnect.
 */
export class ConnectionRefusedError extends EntanglementError {
  constructor(readonly status: number, readonly reason: string) {
    super('connection-refused', `the node refused the connection (${status}): ${reason}`);
  }
}
