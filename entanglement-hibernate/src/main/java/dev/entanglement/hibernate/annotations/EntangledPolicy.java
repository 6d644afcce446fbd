package dev.entanglement.hibernate.annotations;

import dev.entanglement.hibernate.policy.Policy;
import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Policies that decide for this entity type only, asked before the node's own policies
 * ({@code entanglement.policy}). Each class needs a public no-argument constructor; one instance
 * per class is made when the persistence unit starts.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface EntangledPolicy {
  Class<? extends Policy>[] value();
}
