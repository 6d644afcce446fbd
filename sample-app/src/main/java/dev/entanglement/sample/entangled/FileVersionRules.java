package dev.entanglement.sample.entangled;

import dev.entanglement.hibernate.policy.Decision;
import dev.entanglement.hibernate.policy.IncomingMessage;
import dev.entanglement.hibernate.policy.Peer;
import dev.entanglement.hibernate.policy.Policy;

/**
 * The policy of {@link FileVersion}: a node's file versions are written by that node only. A
 * request from another node to change, create or remove one is refused, and a version is
 * accepted only from the node it describes (its id starts with its owner's name), so no node can
 * put content into another node's files by speaking for a third. Stateless.
 */
public final class FileVersionRules implements Policy {
  @Override
  public Decision receiveMessage(Peer peer, IncomingMessage message) {
    if (message.isRequest()) {
      return Decision.deny("file versions are written only by the node that holds the file: '"
          + message.origin() + "' asked to change '" + message.idText() + "' of node '" + message.owner() + "'");
    }
    return Decision.denyIf(!message.idText().startsWith(message.owner() + ":"),
        "file version '" + message.idText() + "' does not describe a file of its owner '" + message.owner() + "'");
  }
}
