package dev.entanglement.hibernate.web;

/**
 * Decides who a browser is, from its WebSocket upgrade request (a bearer token, a session cookie,
 * a header, the client's address): the application's own authentication, asked before the
 * connection is upgraded. The name it returns is the browser's peer name: policies see the
 * browser as a peer of that name ({@link dev.entanglement.hibernate.policy.Peer#browser()} true)
 * and decide what it receives and may request exactly as for a node.
 *
 * <p>Registered with the setting {@code entanglement.web.identity}: the fully qualified name of a
 * class with a public no-argument constructor, or an instance in the properties map given in code
 * (as policies are). Without one, every upgrade is refused with 403.
 *
 * <p>The name must be a node name (1 to 64 letters, digits, '.', '_' or '-') and should be unique
 * per connection and distinct from every node's name: two connections under one name replace each
 * other as two streams of one node would (the newer wins), and a browser is refused a name a
 * connected node has. A user with several tabs therefore gets a name per tab, for example
 * {@code alice.tab-3f2a} from a query parameter, and policies match the user part.
 *
 * <p>Called on one of the node's worker threads (it may block briefly, e.g. to look a token up),
 * from several at once: implementations are thread-safe. A method that throws refuses the
 * upgrade with 500, logged.
 */
@FunctionalInterface
public interface BrowserIdentity {
  /**
   * Admits the browser under a peer name ({@link Admission#peer}) or refuses it with 401 ({@link
   * Admission#unauthorized}: no or bad credentials) or 403 ({@link Admission#forbidden}: known,
   * but not allowed); the refusal's reason is the body of the HTTP answer.
   */
  Admission identify(UpgradeRequest request);
}
