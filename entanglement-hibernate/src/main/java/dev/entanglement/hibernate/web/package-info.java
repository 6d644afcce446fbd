/**
 * Browser peers: the application's say on who a browser is ({@link
 * dev.entanglement.hibernate.web.BrowserIdentity}), asked for every WebSocket upgrade on {@code
 * entanglement.web.listen}. Public API: depends on nothing internal.
 */
package dev.entanglement.hibernate.web;
