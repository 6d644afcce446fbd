package dev.entanglement.hibernate.testing;

import dev.entanglement.hibernate.EntanglementSettings;
import dev.entanglement.hibernate.testing.model.Item;
import jakarta.persistence.EntityManagerFactory;
import java.util.concurrent.CountDownLatch;
import org.hibernate.jpa.HibernatePersistenceConfiguration;

/**
 * Node "a" in a process of its own for {@code AdoptionCrashTest}: it boots on the given database
 * with adoption settings, prints {@code READY} and serves (adopting in the background) until it
 * is killed with SIGKILL.
 *
 * <p>Arguments: JDBC URL, user, password, listen port, chunk size, adopt on start
 * ({@code true}/{@code false}).
 */
public final class AdoptionCrashNode {
  private AdoptionCrashNode() {}

  public static void main(String[] args) throws Exception {
    EntityManagerFactory factory = new HibernatePersistenceConfiguration("a")
        .managedClass(Item.class)
        .property("jakarta.persistence.jdbc.url", args[0])
        .property("jakarta.persistence.jdbc.user", args[1])
        .property("jakarta.persistence.jdbc.password", args[2])
        .property("hibernate.hbm2ddl.auto", "update")
        .property("hibernate.connection.pool_size", "4")
        .property(EntanglementSettings.NODE_NAME, "a")
        .property(EntanglementSettings.PLAINTEXT, "true")
        .property(EntanglementSettings.LISTEN, "127.0.0.1:" + args[3])
        .property(EntanglementSettings.ADOPT_CHUNK_SIZE, args[4])
        .property(EntanglementSettings.ADOPT_ON_START, args[5])
        .createEntityManagerFactory();
    Runtime.getRuntime().addShutdownHook(new Thread(factory::close));
    System.out.println("READY");
    System.out.flush();
    new CountDownLatch(1).await(); // until killed
  }
}
