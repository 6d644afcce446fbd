package dev.entanglement.hibernate.testing;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import java.util.stream.Collectors;

/**
 * Records the plugin's log lines while open, to assert what operators would read. The tests run
 * JBoss Logging on java.util.logging (see the surefire configuration), so a handler on the
 * {@code dev.entanglement} logger sees every line; DEBUG lines are recorded too (the level of
 * that logger is lowered while open and restored on close).
 */
public final class LogCapture extends Handler implements AutoCloseable {
  private static final String ROOT = "dev.entanglement";
  private final Logger logger = Logger.getLogger(ROOT);
  private final Level previousLevel = logger.getLevel();
  private final List<LogRecord> records = new CopyOnWriteArrayList<>();
  private final SimpleFormatter formatter = new SimpleFormatter();

  private LogCapture() {}

  /** Starts recording. */
  public static LogCapture start() {
    LogCapture capture = new LogCapture();
    capture.setLevel(Level.ALL);
    capture.logger.setLevel(Level.FINE);
    capture.logger.addHandler(capture);
    return capture;
  }

  @Override
  public void publish(LogRecord record) {
    records.add(record);
  }

  /** The WARN (and worse) lines, formatted. */
  public List<String> warnings() {
    return lines(Level.WARNING);
  }

  /** The WARN lines containing every one of the given texts. */
  public List<String> warnings(String... containing) {
    return warnings().stream().filter(line -> containsAll(line, containing)).collect(Collectors.toList());
  }

  /** The lines at DEBUG (FINE) and above containing every one of the given texts. */
  public List<String> lines(String... containing) {
    return lines(Level.FINE).stream().filter(line -> containsAll(line, containing)).collect(Collectors.toList());
  }

  private List<String> lines(Level atLeast) {
    return records.stream().filter(r -> r.getLevel().intValue() >= atLeast.intValue())
        .map(formatter::formatMessage).collect(Collectors.toList());
  }

  private static boolean containsAll(String line, String... texts) {
    for (String text : texts) {
      if (!line.contains(text)) {
        return false;
      }
    }
    return true;
  }

  @Override
  public void flush() {}

  @Override
  public void close() {
    logger.removeHandler(this);
    logger.setLevel(previousLevel);
  }
}
