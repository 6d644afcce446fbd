package dev.entanglement.hibernate.internal.signing;

import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;

/**
 * The SHA-256 hash tree of a batch signature: one signature over the root covers every change of
 * the batch, and each change carries the path from its leaf to the root, so it can be verified
 * alone after a relay took it out of its batch. Leaves are {@code SHA-256(0x00 || canonical form)},
 * inner nodes {@code SHA-256(0x01 || left || right)} (domain-separated, so a leaf can never pass for
 * an inner node); the last node of a level with an odd count moves up unchanged. Stateless.
 */
public final class HashTree {
  private static final byte[] ROOT_LABEL = "entanglement.v1.ChangeTree\n".getBytes(StandardCharsets.UTF_8);

  private HashTree() {}

  /** The signed bytes of a root. */
  static byte[] signedForm(byte[] root) {
    byte[] out = new byte[ROOT_LABEL.length + root.length];
    System.arraycopy(ROOT_LABEL, 0, out, 0, ROOT_LABEL.length);
    System.arraycopy(root, 0, out, ROOT_LABEL.length, root.length);
    return out;
  }

  static byte[] leaf(byte[] canonical) {
    MessageDigest digest = sha256();
    digest.update((byte) 0);
    return digest.digest(canonical);
  }

  private static byte[] inner(byte[] left, byte[] right) {
    MessageDigest digest = sha256();
    digest.update((byte) 1);
    digest.update(left);
    return digest.digest(right);
  }

  /** A built tree: its root and, per leaf, the sibling path to it. */
  record Built(byte[] root, List<List<ByteString>> paths) {}

  static Built build(List<byte[]> leaves) {
    int count = leaves.size();
    List<List<ByteString>> paths = new ArrayList<>(count);
    int[] position = new int[count];
    for (int i = 0; i < count; i++) {
      paths.add(new ArrayList<>());
      position[i] = i;
    }
    List<byte[]> level = new ArrayList<>(leaves);
    while (level.size() > 1) {
      for (int i = 0; i < count; i++) {
        int at = position[i];
        int sibling = at ^ 1;
        if (sibling < level.size()) {
          paths.get(i).add(ByteString.copyFrom(level.get(sibling)));
        }
        position[i] = at / 2;
      }
      List<byte[]> next = new ArrayList<>((level.size() + 1) / 2);
      for (int i = 0; i < level.size(); i += 2) {
        next.add(i + 1 < level.size() ? inner(level.get(i), level.get(i + 1)) : level.get(i));
      }
      level = next;
    }
    return new Built(level.get(0), paths);
  }

  /** The root a leaf's path leads to, or null when the path does not fit the index and count. */
  static byte[] root(byte[] leaf, int index, int count, List<ByteString> path) {
    if (count < 2 || index < 0 || index >= count || path.size() > 64) {
      return null;
    }
    byte[] node = leaf;
    int used = 0;
    while (count > 1) {
      boolean lastOfOdd = index == count - 1 && count % 2 == 1;
      if (!lastOfOdd) {
        if (used >= path.size()) {
          return null;
        }
        byte[] sibling = path.get(used++).toByteArray();
        node = index % 2 == 0 ? inner(node, sibling) : inner(sibling, node);
      }
      index /= 2;
      count = (count + 1) / 2;
    }
    return used == path.size() ? node : null;
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("this JVM has no SHA-256", e);
    }
  }
}
