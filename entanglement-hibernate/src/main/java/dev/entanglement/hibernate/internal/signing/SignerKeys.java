package dev.entanglement.hibernate.internal.signing;

import com.google.protobuf.ByteString;
import dev.entanglement.hibernate.tls.Fingerprints;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.TransitionUpdate;
import dev.entanglement.proto.v1.UpdateRequest;
import java.io.ByteArrayInputStream;
import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The certificates of the owners this node verifies changes of (from peers' Hellos and from
 * {@code Certificates} messages), each checked against this node's own trust and issued to the
 * owner's name, and the verification of signatures with them.
 *
 * <p>Bounded: at most {@link #MAX_OWNERS} owners. Past that, a new owner's certificate is not
 * kept (its changes are refused with SIGNATURE, naming the bound); a known owner's certificate
 * may be replaced by another one this node trusts (a renewal). The public key is parsed once per
 * owner and certificate: verifying costs one signature check, no certificate work.
 *
 * <h2>Concurrency</h2>
 * Thread-safe: a concurrent map of immutable entries; each thread keeps its own JCA
 * {@link Signature} objects.
 */
public final class SignerKeys {
  /** Most owners whose certificates are kept. */
  public static final int MAX_OWNERS = 10_000;
  /** Most certificates in one chain. */
  static final int MAX_CHAIN = 8;

  /** This node's trust: throws when a chain is not trusted (entanglement.tls.trust or a pinned fingerprint). */
  public interface Trust {
    void check(X509Certificate[] chain) throws CertificateException;
  }

  /** One owner's accepted certificate. */
  public record Key(String owner, List<ByteString> chain, PublicKey publicKey, String algorithm, String fingerprint) {}

  /** The outcome of offering a certificate: whether it is new here (to pass on), or why it was refused. */
  public record Offered(boolean added, String problem) {}

  private final String nodeName;
  private final Trust trust;
  private final Map<String, Key> keys = new ConcurrentHashMap<>();
  private final ThreadLocal<Map<String, Signature>> verifiers = ThreadLocal.withInitial(HashMap::new);
  /** Told of every certificate newly kept (to store it); must not block. */
  private volatile java.util.function.Consumer<Key> added = key -> {};

  /** Who hears of each certificate newly kept (the node stores it, so a restart can pass it on). */
  public void onAdded(java.util.function.Consumer<Key> listener) {
    this.added = listener;
  }

  /**
   * @param own this node's own certificate chain (its hand-overs come back in the chains of the
   *     objects it handed on, and are verified like any other)
   */
  public SignerKeys(String nodeName, Trust trust, List<X509Certificate> own) {
    this.nodeName = nodeName;
    this.trust = trust;
    X509Certificate leaf = own.get(0);
    List<ByteString> der = new ArrayList<>();
    try {
      for (X509Certificate certificate : own) {
        der.add(ByteString.copyFrom(certificate.getEncoded()));
      }
    } catch (java.security.cert.CertificateEncodingException e) {
      throw new IllegalArgumentException("the node's certificate cannot be encoded: " + e.getMessage(), e);
    }
    String algorithm = SignatureScheme.algorithm(leaf.getPublicKey());
    if (algorithm != null) {
      keys.put(nodeName, new Key(nodeName, List.copyOf(der), leaf.getPublicKey(), algorithm, Fingerprints.sha256(leaf)));
    }
  }

  /**
   * Checks an owner's certificate chain and keeps it: trusted here, issued to {@code owner}, a
   * key type that signs. Offering the certificate already kept is a no-op.
   */
  public Offered offer(String owner, List<ByteString> chain) {
    if (owner.equals(nodeName)) {
      return new Offered(false, null); // this node verifies nothing of its own
    }
    if (chain.isEmpty() || chain.size() > MAX_CHAIN) {
      return new Offered(false, "the certificate chain of '%s' has %d certificates; expected 1 to %d"
          .formatted(owner, chain.size(), MAX_CHAIN));
    }
    Key known = keys.get(owner);
    if (known != null && known.chain().equals(chain)) {
      return new Offered(false, null);
    }
    X509Certificate[] certificates;
    try {
      CertificateFactory factory = CertificateFactory.getInstance("X.509");
      List<X509Certificate> parsed = new ArrayList<>(chain.size());
      for (ByteString der : chain) {
        parsed.add((X509Certificate) factory.generateCertificate(new ByteArrayInputStream(der.toByteArray())));
      }
      certificates = parsed.toArray(X509Certificate[]::new);
    } catch (CertificateException | ClassCastException e) {
      return new Offered(false, "the certificate of '%s' cannot be read (%s)".formatted(owner, e.getMessage()));
    }
    X509Certificate leaf = certificates[0];
    try {
      trust.check(certificates);
    } catch (CertificateException e) {
      return new Offered(false, "the certificate of '%s' (subject %s) is not trusted here: %s".formatted(owner,
          leaf.getSubjectX500Principal().getName(), e.getMessage()));
    }
    if (!CertificateNames.of(leaf).contains(owner)) {
      return new Offered(false, "the certificate offered for '%s' (subject %s, SHA-256 fingerprint %s) is issued to %s"
          .formatted(owner, leaf.getSubjectX500Principal().getName(), Fingerprints.sha256(leaf),
              CertificateNames.of(leaf)));
    }
    String algorithm = SignatureScheme.algorithm(leaf.getPublicKey());
    if (algorithm == null) {
      return new Offered(false, "the certificate of '%s' has a %s key; signed state needs EC, RSA or Ed25519"
          .formatted(owner, leaf.getPublicKey().getAlgorithm()));
    }
    if (known == null && keys.size() >= MAX_OWNERS) {
      return new Offered(false, "node '%s' keeps the certificates of at most %d owners; the one of '%s' is not kept"
          .formatted(nodeName, MAX_OWNERS, owner));
    }
    Key key = new Key(owner, List.copyOf(chain), leaf.getPublicKey(), algorithm, Fingerprints.sha256(leaf));
    keys.put(owner, key);
    added.accept(key);
    return new Offered(true, null);
  }

  public Key of(String owner) {
    return keys.get(owner);
  }

  public Collection<Key> all() {
    return List.copyOf(keys.values());
  }

  /** Why a received change may not be applied as its owner's, or null when its signature holds. */
  public String problem(Change change) {
    if (change.getEphemeralPathLost()) {
      return null; // the sender's own notice that it lost its way: no state, nothing to sign
    }
    String signer = change.getSigner().isEmpty() ? change.getOwner() : change.getSigner();
    if (!signer.equals(change.getOwner())) {
      // only a browser's ephemeral objects are signed by another node: the node the browser is connected to
      if (!change.getEphemeral() || keys.containsKey(change.getOwner()) || change.getOwner().equals(nodeName)) {
        return "signed by '%s', not by its owner '%s'".formatted(signer, change.getOwner());
      }
    }
    String problem = checkChange(signer, change);
    if (problem != null || change.getEphemeral() || change.getEpoch() == 0) {
      return problem;
    }
    return chainProblem(change);
  }

  /**
   * A state at epoch e > 0 must carry the e signed hand-overs that lead to its owner: epoch 0's by
   * the first owner, each next by the node the previous one named, the last naming this owner.
   */
  private String chainProblem(Change change) {
    long epoch = change.getEpoch();
    List<Change> chain = change.getHandoversList();
    if (chain.size() != epoch) {
      return ("its ownership epoch %d needs the %d signed hand-overs that lead to owner '%s', and it carries %d: "
          + "nobody may raise an epoch or take an object over without its owner's hand-over").formatted(epoch, epoch,
          change.getOwner(), chain.size());
    }
    for (int k = 0; k < chain.size(); k++) {
      Change handover = chain.get(k);
      if (!handover.getEntity().equals(change.getEntity()) || !handover.getId().equals(change.getId())
          || handover.getEpoch() != k || handover.getHandoverTo().isEmpty() || handover.getHandoversCount() > 0) {
        return "its hand-over at epoch %d is not a hand-over of this object at that epoch".formatted(k);
      }
      if (k > 0 && !handover.getOwner().equals(chain.get(k - 1).getHandoverTo())) {
        return "its hand-over at epoch %d is by '%s', but epoch %d handed the object to '%s'".formatted(k,
            handover.getOwner(), k - 1, chain.get(k - 1).getHandoverTo());
      }
      String problem = checkChange(handover.getOwner(), handover);
      if (problem != null) {
        return "its hand-over at epoch %d by '%s' is not genuine: %s".formatted(k, handover.getOwner(), problem);
      }
    }
    if (!chain.get(chain.size() - 1).getHandoverTo().equals(change.getOwner())) {
      return "its last hand-over gives the object to '%s', not to its owner '%s'".formatted(
          chain.get(chain.size() - 1).getHandoverTo(), change.getOwner());
    }
    return null;
  }

  /**
   * Why a received update request may not be taken as its origin's, or null when its signature
   * holds. The certificate chain it carries is offered first (an origin several hops away is not
   * known here otherwise). Only a browser's request is signed by another node: the node the
   * browser is connected to, second on its path.
   *
   * @param peer the peer it came from (not yet on its path)
   */
  public String problem(UpdateRequest request, String peer) {
    String origin = request.getOrigin();
    String signer = request.getSigner().isEmpty() ? origin : request.getSigner();
    if (!signer.equals(origin)) {
      String second = request.getViaCount() >= 2 ? request.getVia(1) : request.getViaCount() == 1 ? peer : null;
      if (!signer.equals(second) || keys.containsKey(origin) || origin.equals(nodeName)) {
        return "signed by '%s', not by its origin '%s'".formatted(signer, origin);
      }
    }
    if (request.getOriginCertificatesCount() > 0) {
      Offered offered = offer(signer, request.getOriginCertificatesList());
      if (offered.problem() != null && !keys.containsKey(signer)) {
        return offered.problem();
      }
    }
    return check(signer, request.getSignature(), () -> CanonicalForm.of(request), "origin");
  }

  /**
   * Why a transition update may not be taken as its origin's, or null when its signature holds.
   * Only a browser's transition is signed by another node (the one it is connected to): accepted
   * when the origin is no node this node knows a certificate of.
   */
  public String problem(TransitionUpdate update) {
    String origin = update.getOrigin();
    String signer = update.getSigner().isEmpty() ? origin : update.getSigner();
    if (!signer.equals(origin) && (keys.containsKey(origin) || origin.equals(nodeName))) {
      return "signed by '%s', not by its origin '%s'".formatted(signer, origin);
    }
    if (update.getOriginCertificatesCount() > 0) {
      Offered offered = offer(signer, update.getOriginCertificatesList());
      if (offered.problem() != null && !keys.containsKey(signer)) {
        return offered.problem();
      }
    }
    return check(signer, update.getSignature(), () -> CanonicalForm.of(update), "origin");
  }

  /** Most batch roots remembered as verified (each spares the verification of the rest of its batch). */
  static final int VERIFIED_ROOTS = 4096;
  /** (signer, root) of batch signatures verified already, least recently used first. */
  private final Map<String, Boolean> verifiedRoots = java.util.Collections.synchronizedMap(
      new java.util.LinkedHashMap<>(256, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
          return size() > VERIFIED_ROOTS;
        }
      });

  /** A change's signature: over its canonical form, or over the root its hash-tree path leads to. */
  private String checkChange(String signer, Change change) {
    if (change.getSignatureLeaves() < 2) {
      return check(signer, change.getSignature(), () -> CanonicalForm.of(change), "owner");
    }
    byte[] root = HashTree.root(HashTree.leaf(CanonicalForm.of(change)), change.getSignatureLeaf(),
        change.getSignatureLeaves(), change.getSignaturePathList());
    if (root == null) {
      return "its signature path does not fit leaf %d of %d: it was altered on the way".formatted(
          change.getSignatureLeaf(), change.getSignatureLeaves());
    }
    String cacheKey = signer + '|' + java.util.HexFormat.of().formatHex(root);
    if (verifiedRoots.containsKey(cacheKey)) {
      return null; // the root is the signer's: this change leads to it, so it is one of the states it signed
    }
    String problem = check(signer, change.getSignature(), () -> HashTree.signedForm(root), "owner");
    if (problem == null) {
      verifiedRoots.put(cacheKey, Boolean.TRUE);
    }
    return problem;
  }

  private String check(String signer, ByteString signature, java.util.function.Supplier<byte[]> form, String role) {
    if (signature.isEmpty()) {
      return "it carries no signature, and node '%s' requires signed state (entanglement.signing=required)"
          .formatted(nodeName);
    }
    Key key = keys.get(signer);
    if (key == null) {
      return "no certificate of its %s '%s' is known at node '%s' (none was passed on, or it was not trusted)"
          .formatted(role, signer, nodeName);
    }
    try {
      Signature verifier = verifiers.get().computeIfAbsent(key.algorithm(), SignerKeys::instance);
      verifier.initVerify(key.publicKey());
      verifier.update(form.get());
      if (verifier.verify(signature.toByteArray())) {
        return null;
      }
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      // a malformed signature: reported as not verifying
    }
    return "its signature does not verify with the certificate of its %s '%s' (SHA-256 fingerprint %s): it was "
        .formatted(role, signer, key.fingerprint()) + "altered or forged on the way";
  }

  private static Signature instance(String algorithm) {
    try {
      return Signature.getInstance(algorithm);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("this JVM cannot verify " + algorithm, e);
    }
  }
}
