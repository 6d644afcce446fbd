package dev.entanglement.sample.spring;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * README.md's "With Spring Boot" shows files of this sample, each after a comment naming it; the
 * build compiles and tests the sample, so the README's example compiles as long as the two are
 * equal.
 */
class ReadmeSnippetsTest {
  private static final Pattern SNIPPET =
      Pattern.compile("<!-- spring-sample: (\\S+) -->\\n```\\w*\\n(.*?)```", Pattern.DOTALL);

  @Test
  void theReadmesSpringBootExampleIsTheSamplesCode() throws IOException {
    Path module = Path.of("").toAbsolutePath();
    String readme = Files.readString(module.resolveSibling("README.md"));
    Matcher snippet = SNIPPET.matcher(readme);
    int found = 0;
    while (snippet.find()) {
      found++;
      assertThat(snippet.group(2)).as("README.md's copy of spring-sample/%s", snippet.group(1))
          .isEqualTo(Files.readString(module.resolve(snippet.group(1))));
    }
    assertThat(found).as("snippets of spring-sample in README.md").isEqualTo(2);
  }
}
