/**
 * Attribute values between the wire's typed `Value` and plain JavaScript.
 *
 * Reading: text, uuid, decimal, temporal (ISO-8601) and enum constants become strings; integers
 * numbers (bigint beyond Number.MAX_SAFE_INTEGER); reals numbers; binary Uint8Array; an embeddable
 * a plain object; a reference `{entity, id}`; null null.
 *
 * Writing needs the kind, since a string may be text, a uuid, a decimal, a temporal or an enum
 * constant, and the owner refuses a value of the wrong kind (WRONG_TYPE). The kind of each
 * attribute is taken, in this order, from an explicit {@link typed} value, the `schema` option,
 * the kinds seen in objects of that entity received so far, and finally the JavaScript type
 * (string: text, integral number or bigint: integer, other number: real).
 */
import { create } from '@bufbuild/protobuf';
import {
  type Attribute,
  AttributeSchema,
  type Value,
  ValueSchema,
} from './gen/entanglement/v1/replication_pb.js';

/** A value kind on the wire. */
export type Kind =
  | 'text'
  | 'integer'
  | 'real'
  | 'boolean'
  | 'binary'
  | 'decimal'
  | 'uuid'
  | 'temporal'
  | 'enum'
  | 'composite'
  | 'reference';

/** The kind of an attribute: a scalar kind, an embeddable's attributes, or a reference. */
export type AttributeKind = Kind | { composite: EntitySchema } | { reference: string; idKind?: Kind };

/** The kinds of an entity's attributes, by name (`id` is the identifier's kind). */
export type EntitySchema = { [attribute: string]: AttributeKind };

/** A reference to another replicated object. */
export interface Ref {
  entity: string;
  id: Plain;
}

/** A plain JavaScript attribute value. */
export type Plain = null | string | number | bigint | boolean | Uint8Array | Ref | PlainObject | Typed;
export interface PlainObject {
  [attribute: string]: Plain;
}

/** A value with its kind given explicitly (see {@link typed}). */
export class Typed {
  constructor(readonly kind: Kind, readonly value: Plain) {}
}

/** Explicitly typed values, for attributes whose kind the client cannot know yet. */
export const typed = {
  text: (value: string) => new Typed('text', value),
  integer: (value: number | bigint) => new Typed('integer', value),
  real: (value: number) => new Typed('real', value),
  boolean: (value: boolean) => new Typed('boolean', value),
  binary: (value: Uint8Array) => new Typed('binary', value),
  decimal: (value: string) => new Typed('decimal', value),
  uuid: (value: string) => new Typed('uuid', value),
  temporal: (value: string) => new Typed('temporal', value),
  enumConstant: (value: string) => new Typed('enum', value),
  reference: (entity: string, id: Plain) => new Typed('reference', { entity, id }),
};

/** Reads a wire value. */
export function fromValue(value: Value | undefined): Plain {
  if (!value) {
    return null;
  }
  const kind = value.kind;
  switch (kind.case) {
    case 'text':
    case 'decimal':
    case 'uuid':
    case 'temporal':
    case 'enumConstant':
    case 'boolean':
    case 'real':
    case 'binary':
      return kind.value;
    case 'integer':
      return kind.value >= BigInt(Number.MIN_SAFE_INTEGER) && kind.value <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(kind.value)
        : kind.value;
    case 'composite':
      return fromAttributes(kind.value.attributes);
    case 'reference':
      return { entity: kind.value.entity, id: fromValue(kind.value.id) };
    default:
      return null;
  }
}

/** Reads attributes into a plain object. */
export function fromAttributes(attributes: Attribute[]): PlainObject {
  const result: PlainObject = {};
  for (const attribute of attributes) {
    result[attribute.name] = fromValue(attribute.value);
  }
  return result;
}

/** The kind of a wire value (undefined for null), as learned from received objects. */
export function kindOf(value: Value | undefined): AttributeKind | undefined {
  if (!value) {
    return undefined;
  }
  const kind = value.kind;
  switch (kind.case) {
    case undefined:
    case 'null':
      return undefined;
    case 'enumConstant':
      return 'enum';
    case 'composite': {
      const nested: EntitySchema = {};
      learn(nested, kind.value.attributes);
      return { composite: nested };
    }
    case 'reference': {
      const idKind = kindOf(kind.value.id);
      return typeof idKind === 'string' ? { reference: kind.value.entity, idKind } : { reference: kind.value.entity };
    }
    default:
      return kind.case as Kind;
  }
}

/** Records the kinds of `attributes` in `schema` (nulls teach nothing). */
export function learn(schema: EntitySchema, attributes: Attribute[]): void {
  for (const attribute of attributes) {
    const kind = kindOf(attribute.value);
    if (kind !== undefined) {
      schema[attribute.name] = kind;
    }
  }
}

function isRef(value: unknown): value is Ref {
  return typeof value === 'object' && value !== null && !(value instanceof Uint8Array)
    && 'entity' in value && 'id' in value && Object.keys(value).length === 2;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Writes a plain value as a wire value of the kind given (or inferred, see the module comment). */
export function toValue(value: Plain | undefined, kind?: AttributeKind, what = 'value'): Value {
  if (value instanceof Typed) {
    return toValue(value.value, value.kind === 'reference' && typeof kind === 'object' ? kind : value.kind, what);
  }
  if (value === null || value === undefined) {
    return create(ValueSchema, { kind: { case: 'null', value: true } });
  }
  const k: AttributeKind = kind ?? infer(value);
  if (typeof k === 'object') {
    if ('composite' in k) {
      if (typeof value !== 'object' || value instanceof Uint8Array) {
        throw new TypeError(`${what} expects an embeddable (an object), got ${typeof value}`);
      }
      return create(ValueSchema, {
        kind: { case: 'composite', value: { attributes: toAttributes(value as PlainObject, k.composite, what) } },
      });
    }
    if (!isRef(value)) {
      throw new TypeError(`${what} expects a reference {entity, id}, got ${typeof value}`);
    }
    return create(ValueSchema, {
      kind: { case: 'reference', value: { entity: value.entity, id: toValue(value.id, k.idKind, `${what}.id`) } },
    });
  }
  switch (k) {
    case 'text':
    case 'decimal':
    case 'uuid':
    case 'temporal':
      return create(ValueSchema, { kind: { case: k, value: String(value) } });
    case 'enum':
      return create(ValueSchema, { kind: { case: 'enumConstant', value: String(value) } });
    case 'integer':
      if (typeof value !== 'bigint' && !(typeof value === 'number' && Number.isInteger(value))) {
        throw new TypeError(`${what} expects an integer, got ${String(value)}`);
      }
      return create(ValueSchema, { kind: { case: 'integer', value: BigInt(value) } });
    case 'real':
      return create(ValueSchema, { kind: { case: 'real', value: Number(value) } });
    case 'boolean':
      if (typeof value !== 'boolean') {
        throw new TypeError(`${what} expects a boolean, got ${typeof value}`);
      }
      return create(ValueSchema, { kind: { case: 'boolean', value } });
    case 'binary':
      if (!(value instanceof Uint8Array)) {
        throw new TypeError(`${what} expects a Uint8Array`);
      }
      return create(ValueSchema, { kind: { case: 'binary', value } });
    case 'composite':
      return toValue(value, { composite: {} }, what);
    case 'reference':
      return toValue(value, { reference: isRef(value) ? value.entity : '' }, what);
  }
}

function infer(value: Plain): AttributeKind {
  switch (typeof value) {
    case 'string':
      return 'text';
    case 'bigint':
      return 'integer';
    case 'number':
      return Number.isInteger(value) ? 'integer' : 'real';
    case 'boolean':
      return 'boolean';
    default:
      if (value instanceof Uint8Array) {
        return 'binary';
      }
      return isRef(value) ? { reference: (value as Ref).entity } : { composite: {} };
  }
}

/** The kind of an id when none was learned: a UUID-shaped string is a uuid. */
export function inferIdKind(id: Plain): Kind {
  if (typeof id === 'string') {
    return UUID.test(id) ? 'uuid' : 'text';
  }
  return typeof id === 'number' || typeof id === 'bigint' ? 'integer' : 'text';
}

/** Writes a plain object's attributes with the kinds of `schema`. */
export function toAttributes(values: PlainObject, schema: EntitySchema, what = 'object'): Attribute[] {
  return Object.entries(values)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => create(AttributeSchema, { name, value: toValue(value, schema[name], `${what}.${name}`) }));
}

/** The key an id has in the client's maps. */
export function idKey(id: Plain): string {
  if (typeof id === 'string') {
    return id;
  }
  if (typeof id === 'number' || typeof id === 'bigint' || typeof id === 'boolean') {
    return String(id);
  }
  if (id instanceof Typed) {
    return idKey(id.value);
  }
  return JSON.stringify(id, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
}
