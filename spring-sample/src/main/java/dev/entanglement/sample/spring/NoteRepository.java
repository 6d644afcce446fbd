package dev.entanglement.sample.spring;

import jakarta.persistence.LockModeType;
import java.util.Optional;
import java.util.UUID;
import org.springframework.data.jpa.repository.JpaRepository;
import org.springframework.data.jpa.repository.Lock;
import org.springframework.data.jpa.repository.Query;
import org.springframework.data.repository.query.Param;

public interface NoteRepository extends JpaRepository<Note, UUID> {
  /** The note, its row locked until the transaction ends (SELECT ... FOR UPDATE). */
  @Lock(LockModeType.PESSIMISTIC_WRITE)
  @Query("select n from Note n where n.id = :id")
  Optional<Note> lockById(@Param("id") UUID id);
}
