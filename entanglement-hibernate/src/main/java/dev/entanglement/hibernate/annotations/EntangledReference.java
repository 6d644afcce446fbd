package dev.entanglement.hibernate.annotations;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * How a receiver treats a {@code @ManyToOne} reference of an {@link Entangled} entity to an
 * object it does not have: the referenced object was withheld from it by a policy, or has not
 * arrived yet. By default the change is parked with reason {@code MISSING_REFERENCE} and applied
 * once the referenced object arrives, which keeps referential integrity but holds the object back
 * for as long as the reference cannot be resolved (for ever, when a policy withholds it).
 *
 * <p>Put it on the field, or on the getter when the entity uses property access. See
 * docs/design/references.md for the trade-offs.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.FIELD, ElementType.METHOD})
public @interface EntangledReference {

  /** What a receiver does when it does not have the referenced object. */
  WhenMissing whenMissing() default WhenMissing.PARK;

  /** What a receiver does with a reference to an object it does not have. */
  enum WhenMissing {
    /** Park the change until the referenced object arrives (the default): integrity over availability. */
    PARK,
    /**
     * Store the object with the reference set to null. The reference stays null at this receiver
     * until the owner sends the object again, even after the referenced object arrives. Needs an
     * optional association (the boot fails otherwise).
     */
    STORE_NULL,
    /**
     * Store the object with the reference's id as it is, though the row it names is missing: it
     * resolves by itself once the referenced object arrives. Reading the association before then
     * fails with Hibernate's {@code EntityNotFoundException} (or use {@code @NotFound(IGNORE)}). Needs
     * a join column without a foreign key constraint, e.g. {@code @JoinColumn(foreignKey =
     * @ForeignKey(ConstraintMode.NO_CONSTRAINT))}: with one, the database refuses the row and the
     * change is parked with reason {@code CONSTRAINT_VIOLATION}.
     */
    DANGLE
  }
}
