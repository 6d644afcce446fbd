package dev.entanglement.hibernate.spring;

import dev.entanglement.hibernate.CallerTransactions;
import jakarta.persistence.EntityManager;
import java.util.Optional;
import org.hibernate.Session;
import org.hibernate.SessionFactory;
import org.springframework.orm.jpa.EntityManagerHolder;
import org.springframework.transaction.support.TransactionSynchronizationManager;

/**
 * The session of the Spring transaction on the calling thread (JpaTransactionManager binds its
 * EntityManager to the thread), so that the plugin's update(), delete() and create() join it.
 * Looked up among the thread's bound resources by SessionFactory, because it is set while the
 * EntityManagerFactory bean is being built and cannot depend on it.
 *
 * <h2>Concurrency</h2>
 * Stateless; reads the calling thread's Spring resources.
 */
final class SpringCallerTransactions implements CallerTransactions {

  @Override
  public Optional<Session> current(SessionFactory factory) {
    if (!TransactionSynchronizationManager.isActualTransactionActive()) {
      return Optional.empty();
    }
    for (Object resource : TransactionSynchronizationManager.getResourceMap().values()) {
      if (resource instanceof EntityManagerHolder holder) {
        EntityManager manager = holder.getEntityManager();
        Session session = manager.unwrap(Session.class);
        if (session.getSessionFactory() == factory
            || session.getSessionFactory().unwrap(SessionFactory.class) == factory.unwrap(SessionFactory.class)) {
          return Optional.of(session);
        }
      }
    }
    return Optional.empty();
  }
}
