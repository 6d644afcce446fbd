/**
 * Spring PetClinic's entity mapping (Owner-Pet and Pet-Visit {@code @OneToMany @JoinColumn},
 * Vet-Specialty {@code @ManyToMany @JoinTable}), shaped as in its repository with UUID ids instead
 * of IDENTITY ones and {@code @Entangled} on each entity; no Spring, no bean validation.
 */
package dev.entanglement.hibernate.testing.model.petclinic;
