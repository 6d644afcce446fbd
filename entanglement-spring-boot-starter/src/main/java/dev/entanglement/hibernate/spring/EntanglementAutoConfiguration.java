package dev.entanglement.hibernate.spring;

import dev.entanglement.hibernate.Entanglement;
import dev.entanglement.hibernate.EntanglementSettings;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.persistence.EntityManagerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.hibernate.autoconfigure.HibernateJpaAutoConfiguration;
import org.springframework.boot.hibernate.autoconfigure.HibernatePropertiesCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Runs the plugin for the application's JPA persistence unit when {@code entanglement.node.name}
 * is set: passes the {@code entanglement.*} settings to Hibernate, makes {@link Entanglement} a
 * bean, joins its writes to Spring's transactions, sends its meters to Boot's
 * {@code MeterRegistry}, registers the application's policy and listener beans, and serves peers in
 * Boot's lifecycle. {@link EntanglementActuatorAutoConfiguration} adds health and info.
 */
@AutoConfiguration(after = HibernateJpaAutoConfiguration.class)
@ConditionalOnClass({EntityManagerFactory.class, HibernatePropertiesCustomizer.class})
@ConditionalOnProperty(prefix = "entanglement.node", name = "name")
@EnableConfigurationProperties(EntanglementProperties.class)
public class EntanglementAutoConfiguration {

  /** The settings, Spring's transactions to join, and servers opened by the lifecycle, not at boot. */
  @Bean
  HibernatePropertiesCustomizer entanglementHibernateProperties(EntanglementProperties properties) {
    return hibernate -> {
      hibernate.putAll(properties.toHibernateProperties());
      hibernate.put(EntanglementSettings.SERVE_AT_BOOT, false);
      hibernate.put(EntanglementSettings.CALLER_TRANSACTIONS, new SpringCallerTransactions());
    };
  }

  @Bean
  @ConditionalOnMissingBean
  @ConditionalOnBean(EntityManagerFactory.class)
  Entanglement entanglement(EntityManagerFactory entityManagerFactory) {
    return Entanglement.of(entityManagerFactory); // Spring's proxy is unwrapped there
  }

  @Bean
  @ConditionalOnBean(Entanglement.class)
  EntanglementLifecycle entanglementLifecycle(Entanglement entanglement, ConfigurableListableBeanFactory beans) {
    return new EntanglementLifecycle(entanglement, beans);
  }

  /** Boot's registry instead of Micrometer's global one. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(MeterRegistry.class)
  static class Metrics {
    @Bean
    HibernatePropertiesCustomizer entanglementMeterRegistry(ObjectProvider<MeterRegistry> registry) {
      return hibernate -> registry.ifAvailable(found -> hibernate.put(EntanglementSettings.METRICS_REGISTRY, found));
    }
  }
}
