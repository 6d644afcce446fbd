/**
 * {@code entangled}: two nodes keep configuration files aligned through the plugin, with
 * split-brain reported rather than resolved by guesswork, and a small HTTP API. Built only on
 * the plugin's public API; see {@code docs/entangled.md}.
 */
package dev.entanglement.sample.entangled;
