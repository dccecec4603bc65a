package dev.contextstore.client;

import java.util.List;

/**
 * One revision of a namespace, from a {@link WatchStream}: the events of one atomic change (a
 * call, a batch, a clear), whole and in the order they happened; or, when {@code progress}, no
 * events and the revision up to which nothing was missed (a stream's first response, and a
 * heartbeat while nothing changes).
 *
 * @param revision the namespace's revision: that of these events, or the one the watch is up to
 *     date with
 * @param events the events of one change, in order; empty for progress
 * @param progress no events: the revision the watch is up to date with
 */
public record WatchResponse(long revision, List<WatchEvent> events, boolean progress) {
  public WatchResponse {
    events = List.copyOf(events);
  }
}
