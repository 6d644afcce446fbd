package dev.entanglement.hibernate.testing;

import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.ReplicationGrpc;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

/**
 * A gRPC-level relay between a real node that dials {@code inprocess:NAME} and a real node
 * listening in-process: every envelope passes unchanged, and those going back to the dialer (what
 * the dialing node reads off the wire) are recorded, across reconnects. Unlike {@link FaultyProxy}
 * (bytes on TCP) it sees decoded frames.
 *
 * <p>Bounds: the record grows with the test's traffic (a test's few hundred frames); gRPC's
 * automatic flow control paces both directions.
 */
public final class RecordingRelay implements AutoCloseable {
  private final Server server;
  private final ManagedChannel target;
  private final ConcurrentLinkedQueue<Envelope> toDialer = new ConcurrentLinkedQueue<>();

  private RecordingRelay(String name, String targetName) throws IOException {
    target = InProcessChannelBuilder.forName(targetName).directExecutor().build();
    server = InProcessServerBuilder.forName(name).directExecutor().addService(relaying(target, toDialer)).build()
        .start();
  }

  /**
   * The relaying service (also {@link TlsRecordingRelay}'s): each stream the dialer opens is opened
   * to {@code target}; envelopes pass unchanged both ways, and those going to the dialer are added
   * to {@code toDialer}.
   */
  static ReplicationGrpc.ReplicationImplBase relaying(Channel target, Queue<Envelope> toDialer) {
    return new ReplicationGrpc.ReplicationImplBase() {
      @Override
      public StreamObserver<Envelope> exchange(StreamObserver<Envelope> dialer) {
        StreamObserver<Envelope> upstream = ReplicationGrpc.newStub(target).exchange(new StreamObserver<>() {
          @Override
          public void onNext(Envelope value) {
            toDialer.add(value);
            synchronized (dialer) {
              dialer.onNext(value);
            }
          }

          @Override
          public void onError(Throwable t) {
            synchronized (dialer) {
              dialer.onError(t);
            }
          }

          @Override
          public void onCompleted() {
            synchronized (dialer) {
              dialer.onCompleted();
            }
          }
        });
        return new StreamObserver<>() {
          @Override
          public synchronized void onNext(Envelope value) {
            upstream.onNext(value);
          }

          @Override
          public synchronized void onError(Throwable t) {
            upstream.onError(t);
          }

          @Override
          public synchronized void onCompleted() {
            upstream.onCompleted();
          }
        };
      }
    };
  }

  /** Listens on {@code inprocess:name} and relays every stream to {@code inprocess:targetName}. */
  public static RecordingRelay start(String name, String targetName) {
    try {
      return new RecordingRelay(name, targetName);
    } catch (IOException e) {
      throw new IllegalStateException("in-process relay '" + name + "' did not start", e);
    }
  }

  /** Every envelope the target sent to the dialer so far, in order. */
  public List<Envelope> toDialer() {
    return List.copyOf(toDialer);
  }

  @Override
  public void close() throws InterruptedException {
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    target.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }
}
