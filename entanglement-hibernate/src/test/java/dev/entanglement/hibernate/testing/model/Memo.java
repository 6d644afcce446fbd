package dev.entanglement.hibernate.testing.model;

import dev.entanglement.hibernate.annotations.Entangled;
import dev.entanglement.hibernate.annotations.EntangledPolicy;
import dev.entanglement.hibernate.policy.Decision;
import dev.entanglement.hibernate.policy.ObjectRef;
import dev.entanglement.hibernate.policy.Peer;
import dev.entanglement.hibernate.policy.Policy;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** An entity with a policy of its own: memos marked confidential never leave their node. */
@Entity
@Entangled
@EntangledPolicy(Memo.Confidential.class)
public class Memo {
  @Id private long id;
  private String text;
  private boolean confidential;

  /** Every call the type-level policy received, for tests of the order. */
  public static final List<String> CALLS = new CopyOnWriteArrayList<>();

  /** The type's own policy. */
  public static final class Confidential implements Policy {
    @Override
    public Decision send(Peer peer, ObjectRef object) {
      CALLS.add("type send " + object.id());
      Memo memo = (Memo) object.entity();
      return Decision.denyIf(memo != null && memo.confidential, "confidential memos stay at their node");
    }
  }

  protected Memo() {}

  public Memo(long id, String text, boolean confidential) {
    this.id = id;
    this.text = text;
    this.confidential = confidential;
  }

  public long getId() { return id; }
  public String getText() { return text; }
  public void setText(String text) { this.text = text; }
  public boolean isConfidential() { return confidential; }

  static List<String> calls() {
    return new ArrayList<>(CALLS);
  }
}
