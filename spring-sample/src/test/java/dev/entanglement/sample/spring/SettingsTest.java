package dev.entanglement.sample.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;

/** A bad entanglement.* value stops the boot with a message naming the property and the value. */
class SettingsTest {

  @Test
  void aValueOfTheWrongTypeNamesTheProperty() {
    Throwable failure = boot(Map.of("entanglement.heartbeat.interval-ms", "soon"));

    assertThat(messages(failure)).contains("entanglement.heartbeat.interval-ms").contains("soon");
  }

  @Test
  void aValueThePluginRefusesNamesItsSetting() {
    Throwable failure = boot(Map.of("entanglement.listen", "nowhere"));

    assertThat(messages(failure)).contains("Setting entanglement.listen has the invalid value 'nowhere'");
  }

  private static Throwable boot(Map<String, Object> bad) {
    Map<String, Object> properties = new LinkedHashMap<>(SampleDatabases.fresh("settings"));
    properties.put("entanglement.node.name", "settings");
    properties.put("entanglement.peers", "");
    properties.put("entanglement.listen", "");
    properties.putAll(bad);
    return catchThrowable(() -> new SpringApplicationBuilder(SpringSampleApplication.class)
        .web(WebApplicationType.NONE).run(SampleDatabases.arguments(properties)).close());
  }

  private static String messages(Throwable failure) {
    assertThat(failure).isNotNull();
    StringBuilder all = new StringBuilder();
    for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
      all.append(cause.getMessage()).append('\n');
    }
    return all.toString();
  }
}
