package dev.entanglement.hibernate.internal.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.URL;
import java.net.URLClassLoader;
import org.junit.jupiter.api.Test;

/** Metrics bind to Micrometer when it is there, and the plugin runs without it. */
class NodeMetricsTest {
  /** Hides Micrometer, and lets the metrics package load from the plugin's classes below it. */
  private static final class WithoutMicrometer extends ClassLoader {
    WithoutMicrometer(ClassLoader parent) {
      super(parent);
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
      if (name.startsWith("io.micrometer.") || name.startsWith(NodeMetrics.class.getPackageName() + ".")) {
        throw new ClassNotFoundException(name);
      }
      return super.loadClass(name, resolve);
    }
  }

  @Test
  void withoutMicrometerOnTheClasspath_nothingIsReported_andNothingFails() throws Exception {
    URL pluginClasses = NodeMetrics.class.getProtectionDomain().getCodeSource().getLocation();
    try (URLClassLoader loader = new URLClassLoader(new URL[] {pluginClasses}, new WithoutMicrometer(getClass().getClassLoader()))) {
      Class<?> metrics = loader.loadClass(NodeMetrics.class.getName());
      assertThat(metrics.getClassLoader()).isSameAs(loader);
      Object none = metrics.getField("NONE").get(null);
      assertThat(metrics.getMethod("create", String.class, Object.class).invoke(null, "a", null)).isSameAs(none);
      // a registry object given in code is ignored (with a warning) rather than failing the node
      assertThat(metrics.getMethod("create", String.class, Object.class).invoke(null, "a", new Object())).isSameAs(none);
    }
  }

  @Test
  void withMicrometer_theMetersGoToTheRegistryGiven() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    NodeMetrics metrics = NodeMetrics.create("a", registry);
    assertThat(metrics).isNotSameAs(NodeMetrics.NONE);
    metrics.captured(3, 1_000_000);
    metrics.rejected("b", true, "POLICY");
    assertThat(registry.get("entanglement.capture.changes").tag("node", "a").counter().count()).isEqualTo(3);
    assertThat(registry.get("entanglement.capture.bookkeeping").tag("node", "a").timer().count()).isEqualTo(1);
    assertThat(registry.get("entanglement.peer.rejections").tags("node", "a", "peer", "b", "side", "here", "reason", "POLICY")
        .counter().count()).isEqualTo(1);
  }
}
