package dev.entanglement.hibernate.internal.signing;

import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;

/** The node names a certificate is issued to: its subject CN and DNS names (as the Hello check reads them). Stateless. */
public final class CertificateNames {
  private CertificateNames() {}

  /** The names, empty when they cannot be read. */
  public static Set<String> of(X509Certificate certificate) {
    Set<String> names = new LinkedHashSet<>();
    try {
      for (Rdn rdn : new LdapName(certificate.getSubjectX500Principal().getName()).getRdns()) {
        if (rdn.getType().equalsIgnoreCase("CN")) {
          names.add(String.valueOf(rdn.getValue()));
        }
      }
      var alternatives = certificate.getSubjectAlternativeNames();
      if (alternatives != null) {
        for (List<?> alternative : alternatives) {
          if (alternative.size() == 2 && Integer.valueOf(2).equals(alternative.get(0))) {
            names.add(String.valueOf(alternative.get(1)));
          }
        }
      }
    } catch (InvalidNameException | CertificateParsingException e) {
      return Set.of();
    }
    return names;
  }
}
