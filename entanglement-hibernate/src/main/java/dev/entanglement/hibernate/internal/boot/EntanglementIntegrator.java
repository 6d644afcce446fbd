package dev.entanglement.hibernate.internal.boot;

import dev.entanglement.hibernate.CallerTransactions;
import dev.entanglement.hibernate.EntanglementConfigurationException;

import dev.entanglement.hibernate.EntanglementSettings;
import dev.entanglement.hibernate.internal.admin.AdminConfig;
import dev.entanglement.hibernate.internal.metrics.NodeMetrics;
import dev.entanglement.hibernate.internal.policy.PolicyEngine;
import dev.entanglement.hibernate.internal.capture.CaptureListener;
import dev.entanglement.hibernate.internal.capture.OpenTransactions;
import dev.entanglement.hibernate.internal.capture.OwnershipGuard;
import java.util.Optional;
import org.hibernate.boot.Metadata;
import org.hibernate.boot.spi.BootstrapContext;
import org.hibernate.engine.config.spi.ConfigurationService;
import org.hibernate.engine.spi.SessionFactoryImplementor;
import org.hibernate.event.spi.EventType;
import org.hibernate.integrator.spi.Integrator;
import org.jboss.logging.Logger;

/**
 * Found by Hibernate through {@code META-INF/services}; runs for every persistence unit and does
 * nothing for those without {@code entanglement.node.name}. For the others it validates the
 * settings (failing the boot on a bad one), registers the capture listeners and lets the node
 * start once the SessionFactory is ready (as Envers: register in the Integrator, run in the
 * observer).
 */
public final class EntanglementIntegrator implements Integrator {
  private static final Logger LOG = Logger.getLogger(EntanglementIntegrator.class);

  @Override
  public void integrate(Metadata metadata, BootstrapContext bootstrapContext,
      SessionFactoryImplementor sessionFactory) {
    var settings = sessionFactory.getServiceRegistry()
        .requireService(ConfigurationService.class).getSettings();
    Optional<EntanglementConfig> config = EntanglementConfig.from(settings);
    if (config.isEmpty()) {
      LOG.debug("Entanglement is not enabled for this persistence unit (no entanglement.node.name)");
      return;
    }
    NodeRuntime runtime = new NodeRuntime(config.get());
    runtime.metrics(NodeMetrics.create(config.get().nodeName(), settings.get(EntanglementSettings.METRICS_REGISTRY)));
    runtime.serving = EntanglementConfig.bool(settings, EntanglementSettings.SERVE_AT_BOOT, true);
    runtime.callerTransactions = callerTransactions(settings.get(EntanglementSettings.CALLER_TRANSACTIONS));
    runtime.adoptionSettings(EntanglementConfig.bool(settings, EntanglementSettings.ADOPT_ON_START, false),
        EntanglementConfig.integer(settings, EntanglementSettings.ADOPT_CHUNK_SIZE, 500, 1, 100_000));
    runtime.adminConfig(AdminConfig.from(settings, config.get().tls() != null, config.get().plaintext()));
    ClassLoader loader = Thread.currentThread().getContextClassLoader();
    runtime.nodePolicies(PolicyEngine.fromSetting(EntanglementSettings.POLICY, settings.get(EntanglementSettings.POLICY),
        loader != null ? loader : EntanglementIntegrator.class.getClassLoader()));
    runtime.browserIdentity = BrowserIdentities.fromSetting(settings.get(EntanglementSettings.WEB_IDENTITY),
        loader != null ? loader : EntanglementIntegrator.class.getClassLoader());
    OpenTransactions transactions = new OpenTransactions();
    CaptureListener listener = new CaptureListener(runtime::captureSink, runtime::model, transactions);
    var listeners = sessionFactory.getEventListenerRegistry();
    listeners.appendListeners(EventType.POST_INSERT, listener);
    listeners.appendListeners(EventType.POST_UPDATE, listener);
    listeners.appendListeners(EventType.POST_DELETE, listener);
    // a change only to a collection the object owns changes its replicated state
    listeners.appendListeners(EventType.POST_COLLECTION_RECREATE, listener);
    listeners.appendListeners(EventType.POST_COLLECTION_UPDATE, listener);
    listeners.appendListeners(EventType.POST_COLLECTION_REMOVE, listener);
    // changes of other nodes' objects are vetoed here and become update requests
    OwnershipGuard guard = new OwnershipGuard(runtime::captureSink, runtime::model, transactions);
    listeners.appendListeners(EventType.PRE_UPDATE, guard);
    listeners.appendListeners(EventType.PRE_DELETE, guard);
    sessionFactory.addObserver(runtime);
  }

  private static CallerTransactions callerTransactions(Object value) {
    if (value == null || value instanceof CallerTransactions) {
      return (CallerTransactions) value;
    }
    throw new EntanglementConfigurationException(("Setting %s holds a %s; expected a %s object in the properties "
        + "map given in code").formatted(EntanglementSettings.CALLER_TRANSACTIONS, value.getClass().getName(),
        CallerTransactions.class.getName()));
  }
}
