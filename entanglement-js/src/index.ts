/**
 * Entanglement for Hibernate in the browser and in Node: `connect(url, {token})` opens a client
 * to a node's browser endpoint (see README.md).
 */
export { connect, Client, Transition, PROTOCOL_VERSION } from './client.js';
export type {
  ConnectOptions,
  ConnectionState,
  StateDetail,
  ClientEvents,
  RequestResult,
  RequestOptions,
  CreateOptions,
} from './client.js';
export { ObjectStore, EphemeralStore } from './store.js';
export type { Item, Provisional, ObjectEvents, EphemeralEvents } from './store.js';
export {
  EntanglementError,
  RefusedError,
  ConflictError,
  NotFoundError,
  OwnerUnreachableError,
  OutcomeUnknownError,
  NotSentError,
  QueueFullError,
  ConnectionRefusedError,
} from './errors.js';
export type { ErrorCode } from './errors.js';
export { typed, Typed, idKey } from './values.js';
export type { Kind, AttributeKind, EntitySchema, Plain, PlainObject, Ref } from './values.js';
export { defaultTransport, browserTransport, nodeTransport } from './transport.js';
export type { Transport, TransportEvents, TransportFactory } from './transport.js';
/** The generated protobuf messages (for tools and tests that read the wire). */
export * as wire from './gen/entanglement/v1/replication_pb.js';
