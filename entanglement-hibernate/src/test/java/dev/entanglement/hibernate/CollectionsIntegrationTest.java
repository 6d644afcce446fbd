package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.policy.Decision;
import dev.entanglement.hibernate.policy.ObjectRef;
import dev.entanglement.hibernate.policy.Peer;
import dev.entanglement.hibernate.policy.Policy;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Customer;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.hibernate.testing.model.Note;
import dev.entanglement.hibernate.testing.model.Pinboard;
import dev.entanglement.hibernate.testing.model.Purchase;
import dev.entanglement.hibernate.testing.model.petclinic.Owner;
import dev.entanglement.hibernate.testing.model.petclinic.Pet;
import dev.entanglement.hibernate.testing.model.petclinic.PetType;
import dev.entanglement.hibernate.testing.model.petclinic.Specialty;
import dev.entanglement.hibernate.testing.model.petclinic.Vet;
import dev.entanglement.hibernate.testing.model.petclinic.Visit;
import jakarta.persistence.EntityManager;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Collections an object owns replicate as part of its state (docs/collections.md): Spring
 * PetClinic's mapping (Owner-Pet and Pet-Visit {@code @OneToMany @JoinColumn}, Vet-Specialty
 * {@code @ManyToMany}) and element collections of each kind, on H2 and PostgreSQL, including
 * changes made only to a collection, a catch-up after a restart, and elements a policy withholds.
 */
class CollectionsIntegrationTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final Class<?>[] ENTITIES = {
    Owner.class, Pet.class, PetType.class, Visit.class, Vet.class, Specialty.class,
    Pinboard.class, Customer.class, Purchase.class, Item.class};

  @ParameterizedTest(name = "{0}")
  @EnumSource(Database.class)
  void aPetClinicReplicatesBothWaysAndConvergesAsElementsAreAddedAndRemoved(Database database) {
    String address = "coll-a-" + UUID.randomUUID();
    try (TestNode a = TestNode.builder("a", database, ENTITIES).listenInProcess(address).start();
        TestNode b = TestNode.builder("b", database, ENTITIES).peers("inprocess:" + address).start()) {
      b.awaitConnected("a");
      Map<String, UUID> ids = new TreeMap<>();
      a.inTransaction(em -> {
        PetType cat = named(new PetType(), "cat");
        PetType dog = named(new PetType(), "dog");
        Specialty radiology = named(new Specialty(), "radiology");
        Specialty surgery = named(new Specialty(), "surgery");
        Specialty dentistry = named(new Specialty(), "dentistry");
        for (Object o : List.of(cat, dog, radiology, surgery, dentistry)) {
          em.persist(o);
        }
        Vet carter = person(new Vet(), "James", "Carter");
        carter.addSpecialty(radiology);
        carter.addSpecialty(surgery);
        em.persist(carter);
        Owner franklin = person(new Owner(), "George", "Franklin");
        franklin.setAddress("110 W. Liberty St.");
        franklin.setCity("Madison");
        franklin.setTelephone("6085551023");
        franklin.addPet(pet("Max", dog));
        franklin.addPet(pet("Leo", cat));
        em.persist(franklin);
        Visit visit = new Visit();
        visit.setDescription("rabies shot");
        franklin.getPet("Leo").addVisit(visit);
        ids.put("carter", carter.getId());
        ids.put("franklin", franklin.getId());
        ids.put("dog", dog.getId());
        ids.put("surgery", surgery.getId());
        ids.put("dentistry", dentistry.getId());
      });
      await().atMost(WAIT).until(() -> clinic(b).equals(clinic(a)));
      assertThat(clinic(b)).contains("vet James Carter [radiology, surgery]",
          "owner George Franklin [Leo (cat) visits [rabies shot], Max (dog) visits []]");

      // b's own owner, with a pet of a's type: replicates the other way
      b.inTransaction(em -> {
        Owner davis = person(new Owner(), "Betty", "Davis");
        davis.addPet(pet("Basil", em.find(PetType.class, ids.get("dog"))));
        em.persist(davis);
      });
      await().atMost(WAIT).until(() -> clinic(a).equals(clinic(b)));
      assertThat(clinic(a)).contains("owner Betty Davis [Basil (dog) visits []]");

      // changes made only to collections: nothing in the owners' own rows changes
      a.inTransaction(em -> {
        Vet carter = em.find(Vet.class, ids.get("carter"));
        carter.removeSpecialty(em.find(Specialty.class, ids.get("surgery")));
        carter.addSpecialty(em.find(Specialty.class, ids.get("dentistry")));
        Owner franklin = em.find(Owner.class, ids.get("franklin"));
        franklin.getPets().remove(franklin.getPet("Max")); // Max stays, without an owner
        franklin.addPet(pet("Rosy", em.find(PetType.class, ids.get("dog"))));
        Visit visit = new Visit();
        visit.setDescription("neutered");
        visit.setDate(LocalDate.of(2030, 1, 1));
        franklin.addVisit(franklin.getPet("Leo").getId(), visit);
      });
      await().atMost(WAIT).until(() -> clinic(b).equals(clinic(a)));
      assertThat(clinic(b)).contains("vet James Carter [dentistry, radiology]",
          "owner George Franklin [Leo (cat) visits [rabies shot, neutered], Rosy (dog) visits []]",
          "unowned pet Max (dog)");
      assertThat(b.table("vet_specialties")).isEqualTo(a.table("vet_specialties"));
      assertThat(b.table("pets")).isEqualTo(a.table("pets"));
      assertThat(b.table("visits")).isEqualTo(a.table("visits"));

      // a pet removed and deleted, the vet's specialties emptied
      a.inTransaction(em -> {
        Owner franklin = em.find(Owner.class, ids.get("franklin"));
        Pet rosy = franklin.getPet("Rosy");
        franklin.getPets().remove(rosy);
        em.remove(rosy);
        Vet carter = em.find(Vet.class, ids.get("carter"));
        new ArrayList<>(carter.getSpecialties()).forEach(carter::removeSpecialty);
      });
      await().atMost(WAIT).until(() -> clinic(b).equals(clinic(a)));
      assertThat(clinic(b)).contains("vet James Carter []",
          "owner George Franklin [Leo (cat) visits [rabies shot, neutered]]");
      assertThat(b.table("vet_specialties")).isEmpty();

      // b does not own the vet: its change to the collection goes to a as an update request
      b.inTransaction(em -> em.find(Vet.class, ids.get("carter")).addSpecialty(em.find(Specialty.class, ids.get("surgery"))));
      await().atMost(WAIT).until(() -> clinic(a).contains("vet James Carter [surgery]"));
      await().atMost(WAIT).until(() -> clinic(b).equals(clinic(a)));
      assertThat(b.table("vet_specialties")).isEqualTo(a.table("vet_specialties")).hasSize(1);
      assertThat(b.table("entanglement_parked")).isEmpty();
      assertThat(a.table("entanglement_parked")).isEmpty();
    }
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(Database.class)
  void elementCollectionsReplicateWholeInTheirOrderAlsoWhenOnlyACollectionChanges(Database database) {
    String address = "coll-e-" + UUID.randomUUID();
    try (TestNode a = TestNode.builder("a", database, ENTITIES).listenInProcess(address).start();
        TestNode b = TestNode.builder("b", database, ENTITIES).peers("inprocess:" + address).start()) {
      b.awaitConnected("a");
      Pinboard board = new Pinboard("kitchen");
      board.tags.addAll(Set.of("home", "todo"));
      board.notes.addAll(List.of(new Note("milk", 1), new Note("eggs", 3), new Note("bread", 2)));
      board.counts.putAll(Map.of("milk", 2, "eggs", 12));
      List<Item> items = List.of(new Item("P1", "oven", 1), new Item("P2", "fridge", 1), new Item("P3", "sink", 1));
      a.inTransaction(em -> {
        items.forEach(em::persist);
        board.pinned.addAll(List.of(items.get(2), items.get(0)));
        em.persist(board);
      });
      await().atMost(WAIT).until(() -> board(b, board.id).equals(board(a, board.id)));
      assertThat(board(b, board.id)).isEqualTo("kitchen tags=[home, todo] notes=[milk*1, eggs*3, bread*2] "
          + "counts={eggs=12, milk=2} watchers=[] pinned=[sink, oven]");

      // only collections change: the board's own row stays as it is
      a.inTransaction(em -> {
        Pinboard stored = em.find(Pinboard.class, board.id);
        stored.tags.remove("todo");
        stored.tags.add("done");
        stored.notes.add(0, stored.notes.remove(2)); // bread moves first
        stored.notes.remove(2); // eggs go
        stored.counts.put("milk", 3);
        stored.counts.remove("eggs");
        // a one-to-many through its join table (an element moved within it would hit Hibernate's own
        // unique key on the join table at the owner: that is Hibernate's, not replication's)
        stored.pinned.remove(1);
        stored.pinned.add(em.find(Item.class, items.get(1).getId()));
      });
      await().atMost(WAIT).until(() -> board(b, board.id).equals(board(a, board.id)));
      assertThat(board(b, board.id)).isEqualTo("kitchen tags=[done, home] notes=[bread*2, milk*1] "
          + "counts={milk=3} watchers=[] pinned=[sink, fridge]");

      // only the title changes, the lazy collections are never read by the application: they travel whole anyway
      a.inTransaction(em -> em.find(Pinboard.class, board.id).title = "pantry");
      await().atMost(WAIT).until(() -> board(b, board.id).startsWith("pantry"));
      assertThat(board(b, board.id)).isEqualTo("pantry tags=[done, home] notes=[bread*2, milk*1] "
          + "counts={milk=3} watchers=[] pinned=[sink, fridge]");
    }
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(Database.class)
  void aPeerThatWasAwayCatchesUpWithCollectionsChangedMeanwhile(Database database) {
    String address = "coll-c-" + UUID.randomUUID();
    try (TestNode a = TestNode.builder("a", database, ENTITIES).listenInProcess(address).start()) {
      Pinboard board = new Pinboard("hall");
      board.notes.addAll(List.of(new Note("keys", 1), new Note("mail", 2)));
      UUID[] vet = new UUID[1];
      TestNode first = TestNode.builder("b", database, ENTITIES).peers("inprocess:" + address).start();
      try (TestNode b = first) {
        b.awaitConnected("a");
        a.inTransaction(em -> {
          em.persist(board);
          Specialty surgery = named(new Specialty(), "surgery");
          em.persist(surgery);
          Vet carter = person(new Vet(), "James", "Carter");
          carter.addSpecialty(surgery);
          em.persist(carter);
          vet[0] = carter.getId();
        });
        await().atMost(WAIT).until(() -> board(b, board.id).equals(board(a, board.id)) && clinic(b).equals(clinic(a)));
      }

      a.inTransaction(em -> {
        Pinboard stored = em.find(Pinboard.class, board.id);
        stored.notes.add(new Note("umbrella", 5));
        stored.notes.remove(0);
        Specialty radiology = named(new Specialty(), "radiology");
        em.persist(radiology);
        em.find(Vet.class, vet[0]).addSpecialty(radiology);
      });
      try (TestNode b = first.again().start()) {
        await().atMost(WAIT).until(() -> board(b, board.id).equals(board(a, board.id)) && clinic(b).equals(clinic(a)));
        assertThat(board(b, board.id)).isEqualTo("hall tags=[] notes=[mail*2, umbrella*5] counts={} watchers=[]");
        assertThat(clinic(b)).contains("vet James Carter [radiology, surgery]");
      }
    }
  }

  /** Withholds one customer and one specialty from peer b. */
  private static final class WithholdFromB implements Policy {
    final AtomicBoolean share = new AtomicBoolean();
    final Set<UUID> withheld = java.util.concurrent.ConcurrentHashMap.newKeySet();

    @Override
    public Decision send(Peer peer, ObjectRef object) {
      return Decision.denyIf(!share.get() && withheld.contains(object.id()) && peer.name().equals("b"), "withheld from b");
    }
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(Database.class)
  void anElementThePeerMayNotSeeParksTheOwnerOrIsLeftOutAsTheCollectionSays(Database database) {
    WithholdFromB policy = new WithholdFromB();
    String address = "coll-p-" + UUID.randomUUID();
    try (TestNode a = TestNode.builder("a", database, ENTITIES).listenInProcess(address)
            .set(EntanglementSettings.POLICY, policy).start();
        TestNode b = TestNode.builder("b", database, ENTITIES).peers("inprocess:" + address).start()) {
      b.awaitConnected("a");
      Customer seen = new Customer("seen");
      Customer hidden = new Customer("hidden");
      Specialty secret = named(new Specialty(), "secret");
      Pinboard board = new Pinboard("watched");
      board.watchers.addAll(List.of(seen, hidden));
      UUID[] vet = new UUID[1];
      a.inTransaction(em -> {
        em.persist(seen);
        em.persist(hidden);
        em.persist(secret);
        policy.withheld.addAll(List.of(hidden.id, secret.getId()));
        em.persist(board);
        Vet carter = person(new Vet(), "James", "Carter");
        carter.addSpecialty(secret);
        em.persist(carter);
        vet[0] = carter.getId();
      });
      await().atMost(WAIT).until(() -> b.find(Pinboard.class, board.id) != null);
      assertThat(board(b, board.id)).as("STORE_NULL: the withheld watcher is left out")
          .isEqualTo("watched tags=[] notes=[] counts={} watchers=[seen]");
      await().atMost(WAIT).until(() -> !b.table("entanglement_parked").isEmpty());
      assertThat(b.find(Vet.class, vet[0])).as("PARK: the vet waits for its specialty").isNull();
      assertThat(b.table("entanglement_parked")).singleElement().asString()
          .contains("Vet").contains(vet[0].toString()).contains("MISSING_REFERENCE");

      policy.share.set(true);
      a.entanglement().policyChanged();
      await().atMost(WAIT).until(() -> b.find(Vet.class, vet[0]) != null);
      assertThat(clinic(b)).contains("vet James Carter [secret]");
      assertThat(b.table("entanglement_parked")).isEmpty();
    }
  }

  private static <T extends dev.entanglement.hibernate.testing.model.petclinic.NamedEntity> T named(T entity, String name) {
    entity.setName(name);
    return entity;
  }

  private static <T extends dev.entanglement.hibernate.testing.model.petclinic.Person> T person(T entity, String first,
      String last) {
    entity.setFirstName(first);
    entity.setLastName(last);
    return entity;
  }

  private static Pet pet(String name, PetType type) {
    Pet pet = new Pet();
    pet.setName(name);
    pet.setType(type);
    pet.setBirthDate(LocalDate.of(2020, 1, 1));
    return pet;
  }

  /** A node's clinic as sorted lines, read as the application reads it (pets in @OrderBy order). */
  private static Set<String> clinic(TestNode node) {
    return node.read(em -> {
      Set<String> lines = new TreeSet<>();
      for (Vet vet : all(em, Vet.class)) {
        lines.add("vet %s %s %s".formatted(vet.getFirstName(), vet.getLastName(),
            vet.getSpecialties().stream().map(Specialty::getName).toList()));
      }
      Set<UUID> owned = new java.util.HashSet<>();
      for (Owner owner : all(em, Owner.class)) {
        lines.add("owner %s %s %s".formatted(owner.getFirstName(), owner.getLastName(), owner.getPets().stream()
            .map(p -> "%s (%s) visits %s".formatted(p.getName(), p.getType().getName(),
                p.getVisits().stream().map(Visit::getDescription).toList()))
            .collect(Collectors.toList())));
        owner.getPets().forEach(p -> owned.add(p.getId()));
      }
      for (Pet pet : all(em, Pet.class)) {
        if (!owned.contains(pet.getId())) {
          lines.add("unowned pet %s (%s)".formatted(pet.getName(), pet.getType().getName()));
        }
      }
      return lines;
    });
  }

  /** A node's pinboard as one line, collections in their own order (tags and counts sorted), or "". */
  private static String board(TestNode node, UUID id) {
    return node.read(em -> {
      Pinboard board = em.find(Pinboard.class, id);
      if (board == null) {
        return "";
      }
      String line = "%s tags=%s notes=%s counts=%s watchers=%s".formatted(board.title, new TreeSet<>(board.tags),
          board.notes, new TreeMap<>(board.counts), board.watchers.stream().map(c -> c.name).sorted().toList());
      return board.pinned.isEmpty() ? line : line + " pinned=" + board.pinned.stream().map(Item::getName).toList();
    });
  }

  private static <T> List<T> all(EntityManager em, Class<T> type) {
    return em.createQuery("from " + type.getName(), type).getResultList();
  }
}
