package dev.entanglement.hibernate.annotations;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Excludes an attribute of an {@link Entangled} entity (or of an embeddable it uses) from
 * replication: its value is never sent, and a peer's copy keeps whatever value it has locally
 * (the column default for objects it receives new).
 *
 * <p>Put it on the field, or on the getter when the entity uses property access.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.FIELD, ElementType.METHOD})
public @interface NotEntangled {}
