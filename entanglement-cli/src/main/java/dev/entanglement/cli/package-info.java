/** The {@code entanglement} command-line client: admin calls and development certificates. */
package dev.entanglement.cli;
