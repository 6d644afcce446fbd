/** The admin gRPC service, its access control, and its server with health and reflection. */
package dev.entanglement.hibernate.internal.admin;
