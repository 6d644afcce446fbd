/** Evaluation of the configured policies at each control point, with denial counters and a quiet log. */
package dev.entanglement.hibernate.internal.policy;
