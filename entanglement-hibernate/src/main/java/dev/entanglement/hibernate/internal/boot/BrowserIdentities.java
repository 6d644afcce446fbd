package dev.entanglement.hibernate.internal.boot;

import dev.entanglement.hibernate.EntanglementConfigurationException;
import dev.entanglement.hibernate.EntanglementSettings;
import dev.entanglement.hibernate.web.BrowserIdentity;
import java.lang.reflect.InvocationTargetException;

/**
 * Reads {@link EntanglementSettings#WEB_IDENTITY} as policies are read: an instance, or a class
 * name made with its public no-argument constructor; refused at boot naming the setting. Stateless.
 */
final class BrowserIdentities {
  private BrowserIdentities() {}

  /** The identity, or null when the setting is absent. */
  static BrowserIdentity fromSetting(Object value, ClassLoader loader) {
    String setting = EntanglementSettings.WEB_IDENTITY;
    if (value == null || value.toString().isBlank()) {
      return null;
    }
    if (value instanceof BrowserIdentity identity) {
      return identity;
    }
    String name = value.toString().trim();
    Class<?> type;
    try {
      type = Class.forName(name, true, loader);
    } catch (ClassNotFoundException | LinkageError e) {
      throw new EntanglementConfigurationException(("Setting %s names the class '%s', which cannot be loaded (%s); "
          + "expected the fully qualified name of a class implementing %s").formatted(setting, name, e,
          BrowserIdentity.class.getName()), e);
    }
    if (!BrowserIdentity.class.isAssignableFrom(type)) {
      throw new EntanglementConfigurationException("Setting %s names the class '%s', which does not implement %s"
          .formatted(setting, name, BrowserIdentity.class.getName()));
    }
    try {
      return type.asSubclass(BrowserIdentity.class).getConstructor().newInstance();
    } catch (ReflectiveOperationException | RuntimeException e) {
      Throwable cause = e instanceof InvocationTargetException invocation ? invocation.getCause() : e;
      throw new EntanglementConfigurationException(("Setting %s: the class '%s' could not be created (%s); expected a "
          + "public class with a public no-argument constructor").formatted(setting, name, cause), e);
    }
  }
}
