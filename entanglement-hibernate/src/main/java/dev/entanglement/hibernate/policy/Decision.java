package dev.entanglement.hibernate.policy;

import java.util.Objects;

/**
 * A policy's answer at one control point: allow, deny with a reason, or abstain (no opinion).
 * Policies are combined deny-overrides: one deny wins; otherwise an allow or all abstentions let
 * the object through (see {@link Policy} for the order). Immutable.
 */
public final class Decision {
  /** What a decision says. */
  public enum Verdict { ALLOW, DENY, ABSTAIN }

  private static final Decision ALLOW = new Decision(Verdict.ALLOW, null);
  private static final Decision ABSTAIN = new Decision(Verdict.ABSTAIN, null);

  private final Verdict verdict;
  private final String reason;

  private Decision(Verdict verdict, String reason) {
    this.verdict = verdict;
    this.reason = reason;
  }

  public static Decision allow() {
    return ALLOW;
  }

  public static Decision abstain() {
    return ABSTAIN;
  }

  /**
   * Denies, with a reason for operators and for the peer (a denied receive is answered with
   * it; never put secrets in it).
   */
  public static Decision deny(String reason) {
    if (reason == null || reason.isBlank()) {
      throw new IllegalArgumentException("a denial needs a reason: it is logged, counted and sent to the peer");
    }
    return new Decision(Verdict.DENY, reason);
  }

  /** {@link #allow()} if the condition holds, else {@link #deny} with the reason. */
  public static Decision allowIf(boolean condition, String reasonOtherwise) {
    return condition ? ALLOW : deny(reasonOtherwise);
  }

  /** {@link #deny} with the reason if the condition holds, else {@link #abstain()}. */
  public static Decision denyIf(boolean condition, String reason) {
    return condition ? deny(reason) : ABSTAIN;
  }

  public Verdict verdict() {
    return verdict;
  }

  /** The reason of a denial, or null. */
  public String reason() {
    return reason;
  }

  public boolean isDeny() {
    return verdict == Verdict.DENY;
  }

  public boolean isAllow() {
    return verdict == Verdict.ALLOW;
  }

  public boolean isAbstain() {
    return verdict == Verdict.ABSTAIN;
  }

  /** Deny-overrides: a denial of either wins, then an allow, else abstain. */
  public Decision and(Decision other) {
    if (isDeny()) {
      return this;
    }
    if (other.isDeny()) {
      return other;
    }
    return isAllow() || other.isAllow() ? ALLOW : ABSTAIN;
  }

  /** First applicable: this decision unless it abstains. */
  public Decision orElse(Decision other) {
    return isAbstain() ? other : this;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Decision d && d.verdict == verdict && Objects.equals(d.reason, reason);
  }

  @Override
  public int hashCode() {
    return Objects.hash(verdict, reason);
  }

  @Override
  public String toString() {
    return isDeny() ? "DENY(" + reason + ")" : verdict.name();
  }
}
