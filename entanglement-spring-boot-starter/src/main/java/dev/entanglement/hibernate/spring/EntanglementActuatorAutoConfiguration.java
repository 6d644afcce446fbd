package dev.entanglement.hibernate.spring;

import dev.entanglement.hibernate.Entanglement;
import org.springframework.boot.actuate.info.InfoContributor;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** The node's health and info for Actuator, when the application has it and the node runs. */
@AutoConfiguration(after = EntanglementAutoConfiguration.class)
@ConditionalOnBean(Entanglement.class)
public class EntanglementActuatorAutoConfiguration {

  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(HealthIndicator.class)
  static class Health {
    /** Shows as {@code entanglement} in /actuator/health; off with management.health.entanglement.enabled=false. */
    @Bean
    @ConditionalOnProperty(prefix = "management.health.entanglement", name = "enabled", matchIfMissing = true)
    HealthIndicator entanglementHealthIndicator(Entanglement entanglement, EntanglementProperties properties) {
      return new EntanglementHealthIndicator(entanglement, properties.getPeers());
    }
  }

  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(InfoContributor.class)
  static class Info {
    @Bean
    InfoContributor entanglementInfoContributor(Entanglement entanglement) {
      return new EntanglementInfoContributor(entanglement);
    }
  }
}
