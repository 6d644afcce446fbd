package dev.entanglement.hibernate.testing.model.petclinic;

import dev.entanglement.hibernate.annotations.Entangled;
import jakarta.persistence.Entity;
import jakarta.persistence.Table;

@Entity
@Table(name = "specialties")
@Entangled
public class Specialty extends NamedEntity {}
