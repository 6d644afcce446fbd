/**
 * The small shared kernel of the plugin's internals: change envelopes, the serializing executor,
 * clocks. Depends on no other internal package.
 */
package dev.entanglement.hibernate.internal.core;
