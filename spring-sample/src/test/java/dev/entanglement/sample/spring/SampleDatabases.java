package dev.entanglement.sample.spring;

import dev.entanglement.hibernate.testing.Database;
import java.util.LinkedHashMap;
import java.util.Map;

/** Spring datasource properties of a fresh database on the JVM's one embedded PostgreSQL. */
final class SampleDatabases {
  private SampleDatabases() {}

  static Map<String, Object> fresh(String prefix) {
    Map<String, Object> jpa = Database.POSTGRESQL.freshDatabase(prefix);
    Map<String, Object> spring = new LinkedHashMap<>();
    spring.put("spring.datasource.url", jpa.get("jakarta.persistence.jdbc.url"));
    spring.put("spring.datasource.username", jpa.get("jakarta.persistence.jdbc.user"));
    spring.put("spring.datasource.password", jpa.get("jakarta.persistence.jdbc.password"));
    // a lock wait fails the waiting statement instead of hanging the test
    spring.put("spring.datasource.hikari.connection-init-sql", "SET lock_timeout = '5s'");
    return spring;
  }

  /** Properties as command-line arguments: above application.yml (SpringApplicationBuilder.properties are below it). */
  static String[] arguments(Map<String, Object> properties) {
    return properties.entrySet().stream().map(e -> "--" + e.getKey() + "=" + e.getValue()).toArray(String[]::new);
  }
}
