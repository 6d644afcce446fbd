/**
 * A node for browsers ({@link dev.entanglement.sample.web.WebDemoNode}): the JavaScript client's
 * tests start it, and it serves a board of cards to browsers under the exercise's team rules.
 */
package dev.entanglement.sample.web;
