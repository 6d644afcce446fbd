/**
 * The plugin's own tables: Flyway migrations and the bookkeeping SQL. Internal: no compatibility
 * promise.
 */
package dev.entanglement.hibernate.internal.store;
