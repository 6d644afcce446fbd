package dev.entanglement.hibernate.testing.model;

import dev.entanglement.hibernate.annotations.Entangled;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.util.UUID;

/** Every supported basic type, with an id the application assigns. */
@Entity
@Entangled
public class AllTypes {
  @Id public String id;
  public String label;
  public char letter;
  public Character boxedLetter;
  public byte tiny;
  public short small;
  public int whole;
  public Integer boxedNumber;
  public long big;
  public Long boxedBig;
  public float ratio;
  public double precise;
  public Double boxedPrecise;
  public boolean flag;
  public Boolean boxedFlag;
  public BigDecimal money;
  public BigInteger huge;
  public UUID reference;
  @Enumerated(EnumType.STRING) public Color color;
  @Enumerated(EnumType.ORDINAL) public Color ordinalColor;
  public Instant instant;
  public LocalDate someDay;
  public LocalTime someTime;
  public LocalDateTime dateTime;
  public OffsetDateTime offsetDateTime;
  public Duration duration;
  public byte[] payload;

  public AllTypes() {}
}
