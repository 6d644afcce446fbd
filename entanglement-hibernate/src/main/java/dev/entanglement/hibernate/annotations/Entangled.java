package dev.entanglement.hibernate.annotations;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a JPA entity whose committed changes are replicated to the node's peers.
 *
 * <p>The entity's identifier must be globally unique across nodes: a {@code UUID} (for example
 * {@code @GeneratedValue(strategy = GenerationType.UUID)}) or an identifier the application
 * assigns. Database-generated identifiers (IDENTITY, SEQUENCE, TABLE) fail the boot.
 *
 * <p>Placed on the root of an inheritance hierarchy, it applies to every subclass, and a peer
 * receives each object as its own subclass.
 */
@Documented
@Inherited
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface Entangled {

  /**
   * Whether changes to one object that are not sent yet may be merged into its latest state
   * (intermediate states dropped). Set {@code false} for types where a peer must see every
   * committed state, in order. Defaults to {@code true}.
   */
  boolean coalesce() default true;

  /**
   * Sending order between types: pending changes of a lower priority are sent first (for
   * example parents before children). Defaults to {@code 0}.
   */
  int priority() default 0;
}
