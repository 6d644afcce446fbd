/**
 * Policies: what each peer may see and change. Implement {@link dev.entanglement.hibernate.policy.Policy}
 * (every control point abstains by default), configure it by class name in
 * {@code entanglement.policy}, per entity with
 * {@link dev.entanglement.hibernate.annotations.EntangledPolicy}, or as an instance in the
 * properties map. See {@code docs/policy.md}.
 */
package dev.entanglement.hibernate.policy;
