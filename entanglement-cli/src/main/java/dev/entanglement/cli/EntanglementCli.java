package dev.entanglement.cli;

import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import dev.entanglement.hibernate.tls.DevCertificates;
import dev.entanglement.hibernate.tls.Fingerprints;
import dev.entanglement.proto.v1.AddPeerRequest;
import dev.entanglement.proto.v1.AdminGrpc;
import dev.entanglement.proto.v1.AdminResyncRequest;
import dev.entanglement.proto.v1.AdoptRequest;
import dev.entanglement.proto.v1.AdoptionInfo;
import dev.entanglement.proto.v1.AdoptionResponse;
import dev.entanglement.proto.v1.AdoptionStatusRequest;
import dev.entanglement.proto.v1.DescribeObjectRequest;
import dev.entanglement.proto.v1.ListMembersRequest;
import dev.entanglement.proto.v1.ListMembersResponse;
import dev.entanglement.proto.v1.ListOwnersRequest;
import dev.entanglement.proto.v1.ListOwnersResponse;
import dev.entanglement.proto.v1.ListRequestsRequest;
import dev.entanglement.proto.v1.ListRequestsResponse;
import dev.entanglement.proto.v1.PendingRequestInfo;
import dev.entanglement.proto.v1.ListPeersRequest;
import dev.entanglement.proto.v1.ListPeersResponse;
import dev.entanglement.proto.v1.MemberInfo;
import dev.entanglement.proto.v1.ObjectDescription;
import dev.entanglement.proto.v1.OwnerInfo;
import dev.entanglement.proto.v1.PeerActionResponse;
import dev.entanglement.proto.v1.PeerInfo;
import dev.entanglement.proto.v1.PeerRef;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.stub.MetadataUtils;
import java.io.File;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code entanglement}: every admin call of a node, as tables or JSON, and the development
 * certificate commands. Exit status: 0 done, 1 the call failed (the reason is printed), 2 bad
 * usage.
 */
@Command(name = "entanglement", mixinStandardHelpOptions = true, version = "entanglement 0.1",
    description = "Operates Entanglement nodes through their admin API.",
    subcommands = {EntanglementCli.Peers.class, EntanglementCli.Objects.class, EntanglementCli.ObjectCommand.class, EntanglementCli.Owners.class,
        EntanglementCli.Requests.class, EntanglementCli.Members.class, EntanglementCli.Resync.class, EntanglementCli.Adopt.class, EntanglementCli.Peer.class, EntanglementCli.Cert.class})
public final class EntanglementCli {
  private EntanglementCli() {}

  /** gRPC's own logging (java.util.logging), kept here: JUL holds loggers weakly. */
  private static final java.util.logging.Logger GRPC_LOG = java.util.logging.Logger.getLogger("io.grpc");

  public static void main(String[] args) {
    // each failure is one line of ours (describe); gRPC would add its warnings with stack traces
    GRPC_LOG.setLevel(java.util.logging.Level.OFF);
    System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
  }

  /** Runs a command line, printing to {@code out} and {@code err}; returns the exit status. */
  public static int run(String[] args, PrintWriter out, PrintWriter err) {
    CommandLine commandLine = new CommandLine(new EntanglementCli());
    commandLine.setOut(out);
    commandLine.setErr(err);
    commandLine.setExecutionExceptionHandler((e, cmd, parsed) -> {
      cmd.getErr().println("error: " + describe(e));
      return 1;
    });
    return commandLine.execute(args);
  }

  /** One line for a failed call: the status and the node's message, or why the node was not reached. */
  static String describe(Exception e) {
    String tls = tlsMistake(e);
    if (tls != null) {
      return tls;
    }
    if (e instanceof StatusRuntimeException s) {
      io.grpc.Status status = s.getStatus();
      java.net.UnknownHostException unknown = cause(e, java.net.UnknownHostException.class);
      if (unknown != null) {
        String host = String.valueOf(unknown.getMessage()).split(":")[0].strip();
        return "%s: the admin API could not be reached (unknown host '%s' in --target)".formatted(status.getCode(), host);
      }
      if (String.valueOf(status.getDescription()).contains("INADEQUATE_SECURITY")) { // the node's GOAWAY to plaintext
        return "the node requires mutual TLS and this command spoke plaintext: leave out --plaintext, and give "
            + "--tls-trust (the CA of the node's certificate) with --tls-cert and --tls-key";
      }
      if (status.getCode() == io.grpc.Status.Code.UNAVAILABLE || status.getCode() == io.grpc.Status.Code.DEADLINE_EXCEEDED) {
        Throwable cause = status.getCause();
        return "%s: the admin API could not be reached (%s%s)".formatted(status.getCode(), status.getDescription(),
            cause == null ? "" : "; " + cause.getMessage());
      }
      return status.getCode() + ": " + status.getDescription();
    }
    return e.getMessage() == null ? e.toString() : e.getMessage();
  }

  /**
   * The TLS mistakes a newcomer makes, with the option that fixes each (Netty reports them all as
   * "General OpenSslEngine problem" or "not an SSL/TLS record"); null for anything else.
   */
  static String tlsMistake(Throwable e) {
    if (cause(e, io.grpc.netty.shaded.io.netty.handler.ssl.NotSslRecordException.class) != null) {
      return "the node answered in plaintext (its admin API has no TLS): give --plaintext";
    }
    for (Throwable t = e; t != null; t = t.getCause()) {
      String message = String.valueOf(t.getMessage());
      java.util.regex.Matcher name = NOT_ISSUED_TO.matcher(message);
      if (t instanceof java.security.cert.CertificateException && name.find()) {
        return ("the node's certificate is not issued to '%s': give --server-name with the node name its certificate "
            + "holds (a node's certificate names the node)").formatted(name.group(1));
      }
      if (message.contains("unable to find valid certification path") || message.contains("PKIX path")) {
        return "the node's certificate is not signed by a CA this command trusts: give --tls-trust with the PEM file of "
            + "the CA that signed it";
      }
      if (message.contains("certificate_required") || message.contains("CERTIFICATE_REQUIRED")) {
        return "the node wants an admin client certificate: give --tls-cert and --tls-key (a certificate its "
            + "entanglement.admin.trusted_fingerprints names)";
      }
    }
    return null;
  }

  private static final java.util.regex.Pattern NOT_ISSUED_TO = java.util.regex.Pattern.compile(
      "(?:No subject alternative (?:DNS )?names? matching (?:IP address |DNS name )?|No name matching )(\\S+) found");

  private static <T extends Throwable> T cause(Throwable e, Class<T> type) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (type.isInstance(t)) {
        return type.cast(t);
      }
    }
    return null;
  }

  /** Where and how to reach a node's admin API. */
  static final class Target {
    @Spec(Spec.Target.MIXEE) CommandSpec spec;

    @Option(names = "--target", required = true, description = "the node's admin address, host:port")
    String target;

    @Option(names = "--token", description = "the admin bearer token")
    String token;

    @Option(names = "--token-file", description = "a file holding the admin bearer token")
    Path tokenFile;

    @Option(names = "--plaintext", description = "no TLS (a node without mutual TLS)")
    boolean plaintext;

    @Option(names = "--tls-trust", description = "PEM file of the CA that signed the node's certificate")
    Path trust;

    @Option(names = "--tls-cert", description = "PEM file of an admin client certificate")
    Path certificate;

    @Option(names = "--tls-key", description = "PEM file of its PKCS#8 private key")
    Path key;

    @Option(names = "--server-name", description = "the name in the node's certificate (its node name) when --target is an IP address")
    String serverName;

    @Option(names = "--json", description = "print the answer as JSON")
    boolean json;

    @Option(names = "--timeout", defaultValue = "20", description = "seconds to wait for the answer (default ${DEFAULT-VALUE})")
    long timeoutSeconds;

    /** The token given, read from its file, or null; bad usage is a ParameterException (exit status 2). */
    private String bearer() {
      if (token != null && tokenFile != null) {
        throw new CommandLine.ParameterException(spec.commandLine(), "--token and --token-file are alternatives; give one");
      }
      if (tokenFile == null) {
        return token;
      }
      try {
        String read = Files.readString(tokenFile).trim();
        if (read.isEmpty()) {
          throw new CommandLine.ParameterException(spec.commandLine(),
              "--token-file '%s' is empty; expected the node's admin token".formatted(tokenFile));
        }
        return read;
      } catch (java.io.IOException e) {
        throw new CommandLine.ParameterException(spec.commandLine(),
            "--token-file '%s' cannot be read (%s); expected a file holding the node's admin token".formatted(tokenFile, e));
      }
    }

    <T> T call(Function<AdminGrpc.AdminBlockingStub, T> call) throws Exception {
      if (plaintext && (trust != null || certificate != null || key != null)) {
        throw new CommandLine.ParameterException(spec.commandLine(),
            "--plaintext and the --tls-* options are alternatives; give --plaintext for a node without mutual TLS");
      }
      String bearer = bearer();
      NettyChannelBuilder builder = NettyChannelBuilder.forTarget(target);
      if (plaintext) {
        builder.usePlaintext();
      } else {
        SslContextBuilder ssl = GrpcSslContexts.forClient();
        if (trust != null) {
          ssl.trustManager(trust.toFile());
        }
        if (certificate != null || key != null) {
          if (certificate == null || key == null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--tls-cert and --tls-key go together");
          }
          ssl.keyManager(certificate.toFile(), key.toFile());
        }
        builder.sslContext(ssl.build());
      }
      if (serverName != null) {
        builder.overrideAuthority(serverName);
      }
      ManagedChannel channel = builder.build();
      try {
        AdminGrpc.AdminBlockingStub stub = AdminGrpc.newBlockingStub(channel).withDeadlineAfter(timeoutSeconds, TimeUnit.SECONDS);
        if (bearer != null) {
          Metadata headers = new Metadata();
          headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + bearer);
          stub = stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
        }
        return call.apply(stub);
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }

    void print(PrintWriter out, MessageOrBuilder message, Runnable table) throws Exception {
      if (json) {
        out.println(readable(JsonFormat.printer().includingDefaultValueFields().print(message)));
      } else {
        table.run();
      }
      out.flush();
    }
  }

  private static final java.util.regex.Pattern HTML_ESCAPE =
      java.util.regex.Pattern.compile("(?<!\\\\)((?:\\\\\\\\)*)\\\\u00(27|3c|3e|3d|26)");

  /**
   * JsonFormat escapes {@code ' < > = &} as for HTML ({@code \u0027}); a terminal reader wants
   * them as they are. Both are the same JSON.
   */
  static String readable(String json) {
    return HTML_ESCAPE.matcher(json).replaceAll(m -> java.util.regex.Matcher.quoteReplacement(
        m.group(1) + (char) Integer.parseInt(m.group(2), 16)));
  }

  /** Prints rows as aligned columns. */
  static void table(PrintWriter out, List<String> header, List<List<String>> rows) {
    List<List<String>> all = new ArrayList<>();
    all.add(header);
    all.addAll(rows);
    int[] widths = new int[header.size()];
    for (List<String> row : all) {
      for (int i = 0; i < row.size(); i++) {
        widths[i] = Math.max(widths[i], row.get(i).length());
      }
    }
    for (List<String> row : all) {
      StringBuilder line = new StringBuilder();
      for (int i = 0; i < row.size(); i++) {
        line.append(row.get(i)).append(" ".repeat(widths[i] - row.get(i).length() + 2));
      }
      out.println(line.toString().stripTrailing());
    }
    if (rows.isEmpty()) {
      out.println("(none)");
    }
  }

  /** The instant to the millisecond (the node reports it to the nanosecond). */
  private static String since(String instant) {
    try {
      return java.time.Instant.parse(instant).truncatedTo(java.time.temporal.ChronoUnit.MILLIS).toString();
    } catch (java.time.format.DateTimeParseException e) {
      return instant;
    }
  }

  private static String rate(double bytesPerSecond) {
    return bytesPerSecond >= 1024 ? "%.1f KB/s".formatted(bytesPerSecond / 1024) : "%.0f B/s".formatted(bytesPerSecond);
  }

  @Command(name = "peers", description = "The node's peers: state, lag, outbox, rates and counters.")
  static final class Peers implements Callable<Integer> {
    @Mixin Target target;
    @Spec CommandSpec spec;

    @Override
    public Integer call() throws Exception {
      ListPeersResponse response = target.call(stub -> stub.listPeers(ListPeersRequest.getDefaultInstance()));
      PrintWriter out = spec.commandLine().getOut();
      target.print(out, response, () -> {
        out.println("node " + response.getNode() + (response.getMember().isEmpty() ? ""
            : " (member %s on %s since %s, lease token %d)".formatted(response.getMember(), response.getMemberHost(),
                since(response.getMemberSince()), response.getLeaseToken())));
        List<List<String>> rows = new ArrayList<>();
        // peers being dialed without a stream add why their last attempt failed, as the last column
        boolean dialing = response.getPeersList().stream().anyMatch(p -> !p.getLastError().isEmpty());
        for (PeerInfo p : response.getPeersList()) {
          List<String> row = new ArrayList<>(List.of(p.getName().isEmpty() ? "?" : p.getName(), p.getAddress(),
              p.getState() + (p.getPaused() ? " (paused)" : ""), since(p.getSince()), String.valueOf(p.getLagSerials()),
              String.valueOf(p.getLagObjects()), String.valueOf(p.getOutboxDepth()), rate(p.getBytesSentPerSecond()),
              rate(p.getBytesReceivedPerSecond()), String.valueOf(p.getChangesSent()), String.valueOf(p.getChangesReceived()),
              String.valueOf(p.getCoalesced()), String.valueOf(p.getRejectedByPeer() + p.getRejectedHere())));
          if (dialing) {
            row.add(p.getLastError().isEmpty() ? "-" : "%d failed, next %s: %s".formatted(p.getFailedAttempts(),
                since(p.getNextAttempt()), p.getLastError()));
          }
          rows.add(row);
        }
        List<String> header = new ArrayList<>(List.of("PEER", "ADDRESS", "STATE", "SINCE", "LAG", "LAG OBJECTS", "OUTBOX",
            "SENT/S", "RECEIVED/S", "SENT", "RECEIVED", "COALESCED", "REJECTED"));
        if (dialing) {
          header.add("LAST ERROR");
        }
        table(out, header, rows);
      });
      return 0;
    }
  }

  @Command(name = "object", description = "One object: owner, serial, who acknowledged it, pending requests and transitions.")
  static final class ObjectCommand implements Callable<Integer> {
    @Mixin Target target;
    @Spec CommandSpec spec;

    @Parameters(index = "0", description = "the entity name, e.g. Machine")
    String entity;

    @Parameters(index = "1", description = "the object's id")
    String id;

    @Override
    public Integer call() throws Exception {
      ObjectDescription o = target.call(stub -> stub.describeObject(
          DescribeObjectRequest.newBuilder().setEntity(entity).setId(id).build()));
      PrintWriter out = spec.commandLine().getOut();
      target.print(out, o, () -> table(out, List.of("FIELD", "VALUE"), List.of(
          List.of("object", o.getEntity() + "#" + o.getId()),
          List.of("owner", o.getOwner() + (o.getHandoverTo().isEmpty() ? "" : " (handing over to " + o.getHandoverTo() + ")")),
          List.of("serial", String.valueOf(o.getSerial())),
          List.of("epoch", String.valueOf(o.getEpoch())),
          List.of("deleted", String.valueOf(o.getDeleted())),
          List.of("acknowledged by", String.join(", ", o.getAcknowledgedByList())),
          List.of("not yet acknowledged by", String.join(", ", o.getNotYetAcknowledgedByList())),
          List.of("pending requests", String.valueOf(o.getPendingRequests())),
          List.of("transitions", String.join(", ", o.getTransitionsList())))));
      return 0;
    }
  }

  @Command(name = "objects", description = {"The objects the node holds (tombstones too), in entity and id order, "
      + "a page at a time; SUMMARY shows their basic attributes, to find the id the object command takes."})
  static final class Objects implements Callable<Integer> {
    @Mixin Target target;
    @Spec CommandSpec spec;

    @Option(names = "--entity", description = "only this entity type (its JPA name)")
    String entity;

    @Option(names = "--owner", description = "only this owner's objects")
    String owner;

    @Option(names = "--limit", defaultValue = "100", description = "at most this many (1 to 1000, default ${DEFAULT-VALUE})")
    int limit;

    @Option(names = "--after", description = "the page after this ENTITY#ID (printed at the end of a page)")
    String after;

    @Override
    public Integer call() throws Exception {
      if (limit < 1 || limit > 1000) {
        throw new CommandLine.ParameterException(spec.commandLine(), "--limit %d: expected 1 to 1000".formatted(limit));
      }
      dev.entanglement.proto.v1.ListObjectsRequest.Builder request =
          dev.entanglement.proto.v1.ListObjectsRequest.newBuilder().setLimit(limit);
      if (entity != null) {
        request.setEntity(entity);
      }
      if (owner != null) {
        request.setOwner(owner);
      }
      if (after != null) {
        request.setAfter(after);
      }
      dev.entanglement.proto.v1.ListObjectsResponse response = target.call(stub -> stub.listObjects(request.build()));
      PrintWriter out = spec.commandLine().getOut();
      target.print(out, response, () -> {
        List<List<String>> rows = new ArrayList<>();
        for (dev.entanglement.proto.v1.ListedObject o : response.getObjectsList()) {
          rows.add(List.of(o.getEntity(), o.getId(), o.getOwner(), String.valueOf(o.getSerial()),
              o.getDeleted() ? "deleted" : "live", o.getSummary()));
        }
        table(out, List.of("ENTITY", "ID", "OWNER", "SERIAL", "STATE", "SUMMARY"), rows);
        if (!response.getNext().isEmpty()) {
          out.println("more: --after " + response.getNext());
        }
      });
      return 0;
    }
  }

  @Command(name = "owners", description = {"The owners whose objects the node holds, and those it has a route to.",
      "ROUTE is the owner directory's path: the peer requests go to first, the owner last."})
  static final class Owners implements Callable<Integer> {
    @Mixin Target target;
    @Spec CommandSpec spec;

    @Override
    public Integer call() throws Exception {
      ListOwnersResponse response = target.call(stub -> stub.listOwners(ListOwnersRequest.getDefaultInstance()));
      PrintWriter out = spec.commandLine().getOut();
      target.print(out, response, () -> {
        List<List<String>> rows = new ArrayList<>();
        for (OwnerInfo o : response.getOwnersList()) {
          rows.add(List.of(o.getOwner(), String.valueOf(o.getHeldSerial()), String.valueOf(o.getObjects()),
              String.valueOf(o.getTombstones()), String.join(" > ", o.getPathList())));
        }
        table(out, List.of("OWNER", "HELD SERIAL", "OBJECTS", "TOMBSTONES", "ROUTE"), rows);
      });
      return 0;
    }
  }

  @Command(name = "requests", description = {"The node's update requests not settled yet, oldest first: stored, "
      + "retried until the owner answers, and failed when entanglement.request.lifetime runs out."})
  static final class Requests implements Callable<Integer> {
    @Mixin Target target;
    @Spec CommandSpec spec;

    @Option(names = "--owner", description = "only requests for this owner")
    String owner;

    @Option(names = "--entity", description = "only this entity type")
    String entity;

    @Option(names = "--limit", description = "at most this many (default ${DEFAULT-VALUE})", defaultValue = "100")
    int limit;

    @Override
    public Integer call() throws Exception {
      ListRequestsRequest.Builder request = ListRequestsRequest.newBuilder().setLimit(limit);
      if (owner != null) {
        request.setOwner(owner);
      }
      if (entity != null) {
        request.setEntity(entity);
      }
      ListRequestsResponse response = target.call(stub -> stub.listRequests(request.build()));
      PrintWriter out = spec.commandLine().getOut();
      target.print(out, response, () -> {
        List<List<String>> rows = new ArrayList<>();
        for (PendingRequestInfo r : response.getRequestsList()) {
          rows.add(List.of(r.getEntity() + "#" + r.getId(), r.getOwner(), r.getKind(), since(r.getCreated()), since(r.getExpires()),
              String.valueOf(r.getAttempts()), r.getSent() ? "yes" : "no", r.getLastError()));
        }
        table(out, List.of("OBJECT", "OWNER", "KIND", "CREATED", "EXPIRES", "ATTEMPTS", "SENT", "LAST ERROR"), rows);
        if (response.getTotal() > response.getRequestsCount()) {
          out.println("(%d of %d shown; --limit N for more)".formatted(response.getRequestsCount(), response.getTotal()));
        }
      });
      return 0;
    }
  }

  @Command(name = "members", description = {"The node's members (application instances on its database): which one "
      + "holds the links (the node's lease) and which follow, when each started, its last heartbeat, the holder's "
      + "lease token.", "A member whose heartbeat is older than entanglement.node.lease_timeout_ms counts as gone."})
  static final class Members implements Callable<Integer> {
    @Mixin Target target;
    @Spec CommandSpec spec;

    @Override
    public Integer call() throws Exception {
      ListMembersResponse response = target.call(stub -> stub.listMembers(ListMembersRequest.getDefaultInstance()));
      PrintWriter out = spec.commandLine().getOut();
      target.print(out, response, () -> {
        int count = response.getMembersCount();
        String members = count == 1 ? "1 member" : count + " members";
        MemberInfo holder = response.getMembersList().stream().filter(MemberInfo::getHoldsLinks).findFirst().orElse(null);
        out.println(holder == null ? "node %s: no member holds the links; %s".formatted(response.getNode(), members)
            : "node %s: member %s holds the links%s (lease token %d); %s".formatted(response.getNode(), holder.getMember(),
                holder.getHoldsSince().isEmpty() ? "" : " since " + since(holder.getHoldsSince()), holder.getLeaseToken(),
                members));
        List<List<String>> rows = new ArrayList<>();
        for (MemberInfo m : response.getMembersList()) {
          rows.add(List.of(m.getMember(), m.getHost(), m.getHoldsLinks() ? "holds" : "follows", since(m.getStarted()),
              String.format(java.util.Locale.ROOT, "%.1f s ago", m.getHeartbeatAgeMs() / 1000.0),
              m.getHoldsLinks() ? String.valueOf(m.getLeaseToken()) : "-"));
        }
        table(out, List.of("MEMBER", "HOST", "LINKS", "SINCE", "HEARTBEAT", "TOKEN"), rows);
      });
      return 0;
    }
  }

  @Command(name = "resync", description = {"Sends a peer everything again: all, one owner's objects, or one entity type's.",
      "With --verify the receiver also compares the rows it holds and repairs those deleted or altered behind the "
          + "plugin's back; with --from-peer the node asks the peer for the peer's own objects instead and reports "
          + "what it received, repaired and removed."})
  static final class Resync implements Callable<Integer> {
    @Mixin Target target;
    @Spec CommandSpec spec;

    @Parameters(index = "0", description = "the peer's node name")
    String peer;

    @Option(names = "--owner", description = "only this owner's objects")
    String owner;

    @Option(names = "--entity", description = "only this entity type")
    String entity;

    @Option(names = "--verify", description = "compare content at the receiver and repair what differs (implies the sweep)")
    boolean verify;

    @Option(names = "--from-peer", description = "ask the peer to send its own objects to this node, and wait for the report")
    boolean fromPeer;

    @Override
    public Integer call() throws Exception {
      AdminResyncRequest.Builder request = AdminResyncRequest.newBuilder().setPeer(peer);
      if (owner != null) {
        request.setOwner(owner);
      }
      if (entity != null) {
        request.setEntity(entity);
      }
      request.setVerify(verify).setFromPeer(fromPeer);
      var response = target.call(stub -> stub.resync(request.build()));
      PrintWriter out = spec.commandLine().getOut();
      target.print(out, response, () -> out.println(response.getMessage()));
      return 0;
    }
  }

  @Command(name = "adopt", description = {"Adopts existing rows as this node's objects and sends them to its peers: "
      + "rows the plugin does not know (present before it was added, or inserted behind its back) and this node's "
      + "rows changed or deleted behind its back (bulk HQL or SQL). Other nodes' objects and rows already sent unchanged are "
      + "skipped.",
      "Runs in the background in chunks (entanglement.adopt.chunk_size); an adoption a stop interrupted resumes where "
          + "it was. Peers that connect later receive the rows by catch-up. See docs/adoption.md.",
      "Examples: adopt --target HOST:PORT ...; adopt --entity Task --wait --timeout 600; adopt --status"})
  static final class Adopt implements Callable<Integer> {
    @Mixin Target target;
    @Spec CommandSpec spec;

    @Option(names = "--entity", description = "only this entity type (its JPA name); repeatable; all types when absent")
    List<String> entities = new ArrayList<>();

    @Option(names = "--wait", description = "answer once the adoption is done (raise --timeout for large tables)")
    boolean await;

    @Option(names = "--status", description = "only show where the adoptions stand; adopt nothing")
    boolean status;

    @Override
    public Integer call() throws Exception {
      if (status && (await || !entities.isEmpty())) {
        throw new CommandLine.ParameterException(spec.commandLine(), "--status shows the adoptions; it takes neither "
            + "--entity nor --wait");
      }
      AdoptionResponse response = status
          ? target.call(stub -> stub.adoptionStatus(AdoptionStatusRequest.getDefaultInstance()))
          : target.call(stub -> stub.adopt(AdoptRequest.newBuilder().addAllEntity(entities).setWait(await).build()));
      PrintWriter out = spec.commandLine().getOut();
      target.print(out, response, () -> {
        out.println(response.getMessage().isEmpty() ? "node " + response.getNode()
            : "node %s: %s".formatted(response.getNode(), response.getMessage()));
        List<List<String>> rows = new ArrayList<>();
        for (AdoptionInfo info : response.getAdoptionsList()) {
          rows.add(List.of(info.getEntity(), info.getState(), String.valueOf(info.getScanned()),
              String.valueOf(info.getAnnounced()), String.valueOf(info.getSkipped()), String.valueOf(info.getRemoved()),
              info.getState().equals("DONE") || info.getAfterId().isEmpty() ? "-" : info.getAfterId(),
              info.getError().isEmpty() ? "-" : info.getError()));
        }
        if (!rows.isEmpty()) {
          table(out, List.of("ENTITY", "STATE", "READ", "ANNOUNCED", "SKIPPED", "REMOVED", "AFTER", "ERROR"), rows);
        }
      });
      return response.getAdoptionsList().stream().anyMatch(info -> info.getState().equals("FAILED")) ? 1 : 0;
    }
  }

  @Command(name = "peer", description = "Adds, removes, pauses or resumes a peer.",
      subcommands = {Peer.Add.class, Peer.Remove.class, Peer.Pause.class, Peer.Resume.class})
  static final class Peer {
    abstract static class Action implements Callable<Integer> {
      @Mixin Target target;
      @Spec CommandSpec spec;

      abstract PeerActionResponse call(AdminGrpc.AdminBlockingStub stub);

      @Override
      public Integer call() throws Exception {
        PeerActionResponse response = target.call(this::call);
        PrintWriter out = spec.commandLine().getOut();
        target.print(out, response, () -> out.println(response.getMessage()));
        return 0;
      }
    }

    @Command(name = "add", description = "Dials a new peer.")
    static final class Add extends Action {
      @Parameters(index = "0", description = "host:port")
      String address;

      @Override
      PeerActionResponse call(AdminGrpc.AdminBlockingStub stub) {
        return stub.addPeer(AddPeerRequest.newBuilder().setAddress(address).build());
      }
    }

    @Command(name = "remove", description = "Stops dialing a peer and closes its stream.")
    static final class Remove extends Action {
      @Parameters(index = "0", description = "the peer's name or the address it was added with")
      String peer;

      @Override
      PeerActionResponse call(AdminGrpc.AdminBlockingStub stub) {
        return stub.removePeer(PeerRef.newBuilder().setPeer(peer).build());
      }
    }

    @Command(name = "pause", description = "Pauses the flow with a peer both ways, keeping the stream.")
    static final class Pause extends Action {
      @Parameters(index = "0", description = "the peer's name")
      String peer;

      @Override
      PeerActionResponse call(AdminGrpc.AdminBlockingStub stub) {
        return stub.pausePeer(PeerRef.newBuilder().setPeer(peer).build());
      }
    }

    @Command(name = "resume", description = "Resumes a paused flow.")
    static final class Resume extends Action {
      @Parameters(index = "0", description = "the peer's name")
      String peer;

      @Override
      PeerActionResponse call(AdminGrpc.AdminBlockingStub stub) {
        return stub.resumePeer(PeerRef.newBuilder().setPeer(peer).build());
      }
    }
  }

  @Command(name = "cert", description = "Development certificates (not for production).",
      subcommands = {Cert.Ca.class, Cert.Node.class, Cert.Fingerprint.class})
  static final class Cert {
    @Command(name = "ca", description = "Creates a development CA in DIR.")
    static final class Ca implements Callable<Integer> {
      @Spec CommandSpec spec;

      @Parameters(index = "0", description = "the directory to write certificate.pem and private-key.pem to")
      Path dir;

      @Option(names = "--name", defaultValue = "Entanglement development CA", description = "the CA's name")
      String name;

      @Override
      public Integer call() throws Exception {
        X509Certificate ca = DevCertificates.createCa(dir, name);
        spec.commandLine().getOut().printf("CA '%s' written to %s (SHA-256 %s)%n", name, dir, Fingerprints.sha256(ca));
        return 0;
      }
    }

    @Command(name = "node", description = "Creates a node certificate in DIR, signed by the CA in --ca.")
    static final class Node implements Callable<Integer> {
      @Spec CommandSpec spec;

      @Parameters(index = "0", description = "the directory to write certificate.pem and private-key.pem to")
      Path dir;

      @Option(names = "--ca", required = true, description = "the CA's directory")
      Path ca;

      @Option(names = "--name", required = true, description = "the node's name (entanglement.node.name)")
      String name;

      @Override
      public Integer call() throws Exception {
        X509Certificate node = DevCertificates.createNode(dir, ca, name);
        spec.commandLine().getOut().printf("certificate of node '%s' written to %s (SHA-256 %s)%n", name, dir,
            Fingerprints.sha256(node));
        return 0;
      }
    }

    @Command(name = "fingerprint", description = "Prints a certificate's SHA-256 fingerprint (a node's identity).")
    static final class Fingerprint implements Callable<Integer> {
      @Spec CommandSpec spec;

      @Parameters(index = "0", description = "a PEM certificate file")
      File file;

      @Override
      public Integer call() throws Exception {
        try (var in = Files.newInputStream(file.toPath())) {
          X509Certificate certificate = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
          spec.commandLine().getOut().println(Fingerprints.sha256(certificate));
        }
        return 0;
      }
    }
  }
}
