package dev.entanglement.hibernate;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaCall;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.library.dependencies.SliceAssignment;
import com.tngtech.archunit.library.dependencies.SliceIdentifier;
import com.tngtech.archunit.core.domain.JavaClass;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The layering rules of docs/design/rooms.md, checked on the plugin's compiled main classes:
 * every package is a room, and rooms depend on each other without cycles and in one direction.
 */
class ArchitectureTest {
  private static final String ROOT = "dev.entanglement.hibernate";
  private static JavaClasses plugin;

  @BeforeAll
  static void importPlugin() {
    plugin = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
        .importPackages(ROOT);
  }

  /** Each package of the plugin (the public one included) is a slice of its own. */
  static final SliceAssignment PACKAGES = new SliceAssignment() {
    @Override
    public SliceIdentifier getIdentifierOf(JavaClass javaClass) {
      String name = javaClass.getPackageName();
      return name.startsWith(ROOT) ? SliceIdentifier.of(name) : SliceIdentifier.ignore();
    }

    @Override
    public String getDescription() {
      return "the plugin's packages";
    }
  };

  @Test
  void packagesAreFreeOfCycles() {
    slices().assignedFrom(PACKAGES).should().beFreeOfCycles().check(plugin);
  }

  @Test
  void publicPackagesNeverDependOnInternals() {
    noClasses().that().resideInAnyPackage(ROOT, ROOT + ".annotations", ROOT + ".policy", ROOT + ".tls", ROOT + ".web")
        .should().dependOnClassesThat().resideInAPackage(ROOT + ".internal..")
        .check(plugin);
  }

  @Test
  void transportNeverDependsOnPeer() {
    noClasses().that().resideInAPackage(ROOT + ".internal.transport..")
        .should().dependOnClassesThat().resideInAPackage(ROOT + ".internal.peer..")
        .check(plugin);
  }

  @Test
  void kernelDependsOnNoOtherInternalPackage() {
    classes().that().resideInAPackage(ROOT + ".internal.core..")
        .should().onlyDependOnClassesThat().resideInAnyPackage(ROOT + ".internal.core..", "java..",
            "dev.entanglement.proto..", "com.google.protobuf..", "org.jboss.logging..",
            "com.google.errorprone.annotations..")
        .check(plugin);
  }

  @Test
  void onlyApplyStoreAndOwnersDecisionsOpenTransactions() {
    // the replication path (capture, peers, transport, ephemeral objects, transitions, policies,
    // admin, metrics) never opens a transaction: applying is apply's, bookkeeping is store's,
    // an owner's decisions and hand-overs are ownership's, and the public API's writes are the
    // application's own transactions (boot)
    noClasses().that().resideOutsideOfPackages(ROOT + ".internal.apply..", ROOT + ".internal.store..",
            ROOT + ".internal.ownership..", ROOT + ".internal.boot..")
        .should().callMethodWhere(opensTransaction())
        .check(plugin);
  }

  private static DescribedPredicate<JavaCall<?>> opensTransaction() {
    return DescribedPredicate.describe("opens a database transaction", call ->
        call.getName().equals("beginTransaction")
            || call.getName().equals("begin") && (call.getTargetOwner().isAssignableTo("jakarta.persistence.EntityTransaction")
                || call.getTargetOwner().isAssignableTo("org.hibernate.Transaction")));
  }
}
