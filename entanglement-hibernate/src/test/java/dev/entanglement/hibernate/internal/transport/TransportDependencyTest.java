package dev.entanglement.hibernate.internal.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The transport carries streams for the peer package and never reaches back into it (no cycle). */
class TransportDependencyTest {
  @Test
  void transport_neverImportsPeer() throws IOException {
    Path dir = Path.of("src/main/java/dev/entanglement/hibernate/internal/transport");
    assertThat(dir).isDirectory();
    try (Stream<Path> files = Files.list(dir)) {
      List<String> offenders = files.filter(f -> f.toString().endsWith(".java"))
          .filter(f -> read(f).contains("dev.entanglement.hibernate.internal.peer"))
          .map(f -> f.getFileName().toString()).toList();
      assertThat(offenders).isEmpty();
    }
  }

  private static String read(Path file) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
