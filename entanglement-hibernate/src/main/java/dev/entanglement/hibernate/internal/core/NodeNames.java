package dev.entanglement.hibernate.internal.core;

import java.util.regex.Pattern;

/**
 * What a node name may be, wherever one arrives from a peer: 1 to 64 letters, digits, '.', '_'
 * or '-' (the settings accept the same, and the bookkeeping stores them in {@code VARCHAR(64)}).
 */
public final class NodeNames {
  /** The rule, as messages state it. */
  public static final String RULE = "1 to 64 letters, digits, '.', '_' or '-'";
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,64}");

  private NodeNames() {}

  public static boolean valid(String name) {
    return name != null && NAME.matcher(name).matches();
  }
}
