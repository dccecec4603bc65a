package dev.contextstore.client;

import com.google.common.net.HostAndPort;
import com.google.common.net.InetAddresses;
import io.grpc.Attributes;
import io.grpc.ChannelCredentials;
import io.grpc.EquivalentAddressGroup;
import io.grpc.Grpc;
import io.grpc.ManagedChannelBuilder;
import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import io.grpc.NameResolverRegistry;
import io.grpc.StatusOr;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Target strings, as {@link ContextStoreClient}'s constructors take them and grpc-java reads them.
 *
 * <ul>
 *   <li>One address ({@code "127.0.0.1:50051"}, {@code "localhost:50051"}) or a URI whose scheme
 *       grpc-java resolves ({@code "dns:///name:port"}, {@code "unix:///path"}): handed to
 *       grpc-java as is. A DNS name with several addresses gives the channel all of them.
 *   <li>A comma-separated list of IP addresses with their ports ({@code
 *       "127.0.0.1:50051,[::1]:50052"}): grpc-java has no resolver for a list, so the channel gets
 *       its own registry holding one provider that returns these addresses.
 * </ul>
 *
 * <p>A list takes IP literals only, never host names: a name looked up once here would never
 * follow a change of address; a name with several addresses is one {@code dns:///name:port}
 * target, which grpc-java looks up again when connections fail.
 */
final class Targets {
  /** The scheme of the channel target a list becomes; only the channel's own registry knows it. */
  static final String LIST_SCHEME = "contextstore-addresses";

  private static final Pattern SCHEME = Pattern.compile("^([A-Za-z][A-Za-z0-9+.-]*):");
  private static final String NOT_AN_ADDRESS = "is not an address (HOST:PORT, [IPV6]:PORT)";

  private Targets() {}

  /** A channel builder for {@code target}: grpc-java's own resolvers, or a list's. */
  static ManagedChannelBuilder<?> channelBuilder(String target, ChannelCredentials credentials) {
    Optional<List<InetSocketAddress>> list = addressList(target);
    if (list.isEmpty()) {
      return Grpc.newChannelBuilder(target, credentials);
    }
    NameResolverRegistry registry = new NameResolverRegistry();
    registry.register(new ListResolverProvider(list.get()));
    return Grpc.newChannelBuilder(listUri(list.get()), credentials, registry);
  }

  /**
   * The addresses of a list target, in order; empty when {@code target} is one address or a URI
   * grpc-java resolves itself.
   *
   * @throws IllegalArgumentException for a list entry that is not an IP address with a port
   */
  static Optional<List<InetSocketAddress>> addressList(String target) {
    if (!target.contains(",") || hasResolvedScheme(target)) {
      return Optional.empty();
    }
    List<InetSocketAddress> addresses = new ArrayList<>();
    for (String entry : target.split(",", -1)) {
      addresses.add(address(target, entry.strip()));
    }
    return Optional.of(List.copyOf(addresses));
  }

  private static boolean hasResolvedScheme(String target) {
    var scheme = SCHEME.matcher(target);
    return scheme.find()
        && NameResolverRegistry.getDefaultRegistry().getProviderForScheme(scheme.group(1)) != null;
  }

  private static InetSocketAddress address(String target, String entry) {
    if (entry.isEmpty()) {
      throw refused(target, entry, NOT_AN_ADDRESS);
    }
    HostAndPort parsed;
    try {
      parsed = HostAndPort.fromString(entry);
    } catch (IllegalArgumentException bad) { // unbalanced brackets, a port out of range...
      throw refused(target, entry, NOT_AN_ADDRESS + ": " + bad.getMessage());
    }
    if (!parsed.hasPort()) {
      throw refused(target, entry, "has no port: every address of a list needs one");
    }
    if (parsed.getPort() < 1) {
      throw refused(target, entry, "has no valid port (1 to 65535)");
    }
    if (!InetAddresses.isInetAddress(parsed.getHost())) {
      throw refused(
          target,
          entry,
          "is not an IP address: a list takes IP addresses; for a host name use dns:///NAME:PORT");
    }
    // forString parses the literal: no name lookup.
    return new InetSocketAddress(InetAddresses.forString(parsed.getHost()), parsed.getPort());
  }

  private static IllegalArgumentException refused(String target, String entry, String why) {
    return new IllegalArgumentException("target \"" + target + "\": \"" + entry + "\" " + why);
  }

  /** {@code host:port}, the host bracketed when IPv6: the channel's authority. */
  private static String hostPort(InetSocketAddress address) {
    return HostAndPort.fromParts(address.getHostString(), address.getPort()).toString();
  }

  /** The channel's target: the list under {@link #LIST_SCHEME}, as a valid URI (for logs). */
  private static String listUri(List<InetSocketAddress> addresses) {
    List<String> entries = addresses.stream().map(Targets::hostPort).toList();
    try {
      return new URI(LIST_SCHEME, "", "/" + String.join(",", entries), null).toString();
    } catch (URISyntaxException impossible) {
      throw new IllegalStateException(impossible);
    }
  }

  /** Resolves {@link #LIST_SCHEME} to the addresses of one list: one provider per channel. */
  private static final class ListResolverProvider extends NameResolverProvider {
    private final List<InetSocketAddress> addresses;

    ListResolverProvider(List<InetSocketAddress> addresses) {
      this.addresses = addresses;
    }

    @Override
    protected boolean isAvailable() {
      return true;
    }

    @Override
    protected int priority() {
      return 5;
    }

    @Override
    public String getDefaultScheme() {
      return LIST_SCHEME;
    }

    @Override
    public NameResolver newNameResolver(URI targetUri, NameResolver.Args args) {
      return LIST_SCHEME.equals(targetUri.getScheme()) ? new ListResolver(addresses) : null;
    }
  }

  /**
   * Gives the channel the list's addresses, each its own group, so round_robin uses them all.
   * Each group's authority is its own address, so that over TLS every server's certificate is
   * verified against the address dialled, not the list's first.
   */
  private static final class ListResolver extends NameResolver {
    private final List<InetSocketAddress> addresses;

    ListResolver(List<InetSocketAddress> addresses) {
      this.addresses = addresses;
    }

    @Override
    public String getServiceAuthority() {
      return hostPort(addresses.get(0));
    }

    @Override
    public void start(Listener2 listener) {
      List<EquivalentAddressGroup> groups =
          addresses.stream().map(ListResolver::group).toList();
      listener.onResult2(
          ResolutionResult.newBuilder().setAddressesOrError(StatusOr.fromValue(groups)).build());
    }

    private static EquivalentAddressGroup group(InetSocketAddress address) {
      Attributes authority =
          Attributes.newBuilder()
              .set(EquivalentAddressGroup.ATTR_AUTHORITY_OVERRIDE, hostPort(address))
              .build();
      return new EquivalentAddressGroup(address, authority);
    }

    @Override
    public void shutdown() {}
  }
}
