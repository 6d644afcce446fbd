/** The runnable demo: three nodes replicating a task board ({@link dev.entanglement.sample.SampleApp}). */
package dev.entanglement.sample;
