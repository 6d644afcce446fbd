/**
 * The runnable demo: {@link dev.entanglement.sample.SampleApp} starts three nodes on loopback,
 * each with its own H2 database, and shows a task board replicating between them. Run it with
 * {@code mvn -q -DskipTests install && mvn -q -pl sample-app exec:java} from the project root.
 */
package dev.entanglement.sample;
