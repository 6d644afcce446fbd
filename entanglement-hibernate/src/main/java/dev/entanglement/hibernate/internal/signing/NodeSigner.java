package dev.entanglement.hibernate.internal.signing;

import com.google.protobuf.ByteString;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.TransitionUpdate;
import dev.entanglement.proto.v1.UpdateRequest;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;

/**
 * Signs what this node says as an owner or origin with its node key (the TLS private key), over
 * {@link CanonicalForm}. Its certificate chain goes in the Hello.
 *
 * <h2>Concurrency</h2>
 * Thread-safe: a JCA {@link Signature} is not, so each thread keeps its own.
 */
public final class NodeSigner {
  private final String nodeName;
  private final PrivateKey key;
  private final String algorithm;
  private final List<ByteString> chain;
  private final ThreadLocal<Signature> signatures;

  /**
   * @throws IllegalArgumentException for a key type signed state does not support, or a chain
   *     that cannot be encoded
   */
  public NodeSigner(String nodeName, PrivateKey key, List<X509Certificate> chain) {
    this.nodeName = nodeName;
    this.key = key;
    this.algorithm = SignatureScheme.algorithm(key);
    if (algorithm == null) {
      throw new IllegalArgumentException("a " + key.getAlgorithm() + " key cannot sign state; expected EC, RSA or Ed25519");
    }
    List<ByteString> der = new ArrayList<>(chain.size());
    for (X509Certificate certificate : chain) {
      try {
        der.add(ByteString.copyFrom(certificate.getEncoded()));
      } catch (CertificateEncodingException e) {
        throw new IllegalArgumentException("the certificate chain cannot be encoded: " + e.getMessage(), e);
      }
    }
    this.chain = List.copyOf(der);
    this.signatures = ThreadLocal.withInitial(() -> {
      try {
        return Signature.getInstance(algorithm);
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException("this JVM cannot sign with " + algorithm, e);
      }
    });
  }

  public String nodeName() {
    return nodeName;
  }

  /** This node's certificate chain, DER, leaf first (for its Hello). */
  public List<ByteString> chain() {
    return chain;
  }

  /** The change with this node's signature (and {@code signer} when it signs for a browser). */
  public Change sign(Change change) {
    Change unsigned = unsigned(change);
    return unsigned.toBuilder().setSignature(ByteString.copyFrom(sign(CanonicalForm.of(unsigned)))).build();
  }

  /**
   * The changes signed with one signature over the root of their {@link HashTree}, each carrying its
   * path to the root (one change alone: signed as by {@link #sign(Change)}).
   */
  public List<Change> signAll(List<Change> changes) {
    if (changes.size() == 1) {
      return List.of(sign(changes.get(0)));
    }
    List<Change> unsigned = new ArrayList<>(changes.size());
    List<byte[]> leaves = new ArrayList<>(changes.size());
    for (Change change : changes) {
      Change bare = unsigned(change);
      unsigned.add(bare);
      leaves.add(HashTree.leaf(CanonicalForm.of(bare)));
    }
    HashTree.Built tree = HashTree.build(leaves);
    ByteString signature = ByteString.copyFrom(sign(HashTree.signedForm(tree.root())));
    List<Change> signed = new ArrayList<>(changes.size());
    for (int i = 0; i < unsigned.size(); i++) {
      signed.add(unsigned.get(i).toBuilder().setSignature(signature).setSignatureLeaf(i)
          .setSignatureLeaves(unsigned.size()).addAllSignaturePath(tree.paths().get(i)).build());
    }
    return signed;
  }

  private Change unsigned(Change change) {
    Change.Builder bare = change.toBuilder().clearSignature().clearSignatureLeaf().clearSignatureLeaves()
        .clearSignaturePath();
    if (!change.getOwner().equals(nodeName)) {
      bare.setSigner(nodeName);
    } else {
      bare.clearSigner();
    }
    return bare.build();
  }

  /**
   * The request with this node's signature and certificate chain: as its origin, or (naming
   * itself as {@code signer}) for a browser connected to it.
   */
  public UpdateRequest sign(UpdateRequest request) {
    UpdateRequest.Builder builder = request.toBuilder().clearSignature().clearOriginCertificates();
    if (request.getOrigin().equals(nodeName)) {
      builder.clearSigner();
    } else {
      builder.setSigner(nodeName);
    }
    UpdateRequest unsigned = builder.build();
    return unsigned.toBuilder().setSignature(ByteString.copyFrom(sign(CanonicalForm.of(unsigned))))
        .addAllOriginCertificates(chain).build();
  }

  /** The transition update with this node's signature and chain: as its origin, or for a browser connected to it. */
  public TransitionUpdate sign(TransitionUpdate update) {
    TransitionUpdate.Builder builder = update.toBuilder().clearSignature().clearOriginCertificates();
    if (update.getOrigin().equals(nodeName)) {
      builder.clearSigner();
    } else {
      builder.setSigner(nodeName);
    }
    TransitionUpdate unsigned = builder.build();
    return unsigned.toBuilder().setSignature(ByteString.copyFrom(sign(CanonicalForm.of(unsigned))))
        .addAllOriginCertificates(chain).build();
  }

  private byte[] sign(byte[] data) {
    Signature signature = signatures.get();
    try {
      signature.initSign(key);
      signature.update(data);
      return signature.sign();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("node '" + nodeName + "' could not sign with its key: " + e.getMessage(), e);
    }
  }
}
