package dev.entanglement.hibernate.spring;

import dev.entanglement.hibernate.Entanglement;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.actuate.info.Info;
import org.springframework.boot.actuate.info.InfoContributor;

/** The node's name, addresses and connected peers under {@code entanglement} in Actuator's info. */
final class EntanglementInfoContributor implements InfoContributor {
  private final Entanglement node;

  EntanglementInfoContributor(Entanglement node) {
    this.node = node;
  }

  @Override
  public void contribute(Info.Builder builder) {
    Map<String, Object> info = new LinkedHashMap<>();
    info.put("node", node.nodeName());
    node.listenAddress().ifPresent(address -> info.put("listen", address));
    node.adminAddress().ifPresent(address -> info.put("admin", address));
    node.webAddress().ifPresent(address -> info.put("web", address));
    info.put("connectedPeers", node.connectedPeers().stream().sorted().toList());
    builder.withDetail("entanglement", info);
  }
}
