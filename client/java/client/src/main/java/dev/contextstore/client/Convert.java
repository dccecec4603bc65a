package dev.contextstore.client;

import com.google.protobuf.Timestamp;
import dev.contextstore.v1.BatchGetFilesResponse;
import dev.contextstore.v1.ClearSessionResponse;
import dev.contextstore.v1.FileResult;
import dev.contextstore.v1.GetAnalysisResponse;
import dev.contextstore.v1.GetFileResponse;
import dev.contextstore.v1.GetServerInfoResponse;
import dev.contextstore.v1.GetStatsResponse;
import dev.contextstore.v1.GetStoreStatsResponse;
import dev.contextstore.v1.InvalidateFileResponse;
import dev.contextstore.v1.InvalidatePrefixResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Conversions between the generated protobuf messages and the client's record types. */
final class Convert {
  private Convert() {}

  static Instant instant(Timestamp ts) {
    return Instant.ofEpochSecond(ts.getSeconds(), ts.getNanos());
  }

  static Timestamp timestamp(Instant when) {
    return Timestamp.newBuilder()
        .setSeconds(when.getEpochSecond())
        .setNanos(when.getNano())
        .build();
  }

  static Duration duration(com.google.protobuf.Duration d) {
    return Duration.ofSeconds(d.getSeconds(), d.getNanos());
  }

  static FileMetadata metadata(dev.contextstore.v1.FileMetadata m) {
    return new FileMetadata(
        m.getPath(),
        m.getSize(),
        m.getSha256().toByteArray(),
        m.hasMtime() ? Optional.of(instant(m.getMtime())) : Optional.empty(),
        instant(m.getCachedAt()),
        Map.copyOf(m.getLabelsMap()),
        m.getVersion());
  }

  static List<FileMetadata> metadataList(List<dev.contextstore.v1.FileMetadata> list) {
    return list.stream().map(Convert::metadata).toList();
  }

  static CachedFile file(GetFileResponse r) {
    return new CachedFile(r.getContent().toByteArray(), metadata(r.getMetadata()), r.getUnchanged());
  }

  /** One result per path, in order; empty for a miss. */
  static List<Optional<CachedFile>> files(BatchGetFilesResponse r) {
    List<Optional<CachedFile>> files = new ArrayList<>();
    for (FileResult result : r.getFilesList()) {
      files.add(
          result.getFound()
              ? Optional.of(
                  new CachedFile(
                      result.getContent().toByteArray(),
                      metadata(result.getMetadata()),
                      result.getUnchanged()))
              : Optional.empty());
    }
    return files;
  }

  static CachedAnalysis analysis(GetAnalysisResponse r) {
    return new CachedAnalysis(r.getResult().toByteArray(), instant(r.getCachedAt()));
  }

  static Removed fileRemoved(InvalidateFileResponse r) {
    return new Removed(r.getFilesRemoved(), r.getAnalysesRemoved(), r.getRevision());
  }

  static Removed prefixRemoved(InvalidatePrefixResponse r) {
    return new Removed(r.getFilesRemoved(), r.getAnalysesRemoved(), r.getRevision());
  }

  static Removed sessionCleared(ClearSessionResponse r) {
    return new Removed(r.getFilesRemoved(), r.getAnalysesRemoved(), r.getRevision());
  }

  static WatchResponse watchResponse(dev.contextstore.v1.WatchResponse r) {
    List<WatchEvent> events = r.getEventsList().stream().map(Convert::watchEvent).toList();
    return new WatchResponse(r.getRevision(), events, r.getProgress());
  }

  static WatchEvent watchEvent(dev.contextstore.v1.WatchEvent e) {
    return new WatchEvent(
        kind(e.getKind()),
        e.getPath(),
        e.getSha256().toByteArray(),
        e.getVersion(),
        e.getAnalysisType(),
        reason(e.getReason()));
  }

  /** A kind this client does not know (a newer server's) is {@link WatchEventKind#UNSPECIFIED}. */
  static WatchEventKind kind(dev.contextstore.v1.WatchEventKind kind) {
    return switch (kind) {
      case WATCH_EVENT_KIND_FILE_CACHED -> WatchEventKind.FILE_CACHED;
      case WATCH_EVENT_KIND_FILE_INVALIDATED -> WatchEventKind.FILE_INVALIDATED;
      case WATCH_EVENT_KIND_FILE_EVICTED -> WatchEventKind.FILE_EVICTED;
      case WATCH_EVENT_KIND_ANALYSIS_CACHED -> WatchEventKind.ANALYSIS_CACHED;
      case WATCH_EVENT_KIND_ANALYSIS_REMOVED -> WatchEventKind.ANALYSIS_REMOVED;
      case WATCH_EVENT_KIND_SESSION_CLEARED -> WatchEventKind.SESSION_CLEARED;
      case WATCH_EVENT_KIND_SESSION_EXPIRED -> WatchEventKind.SESSION_EXPIRED;
      default -> WatchEventKind.UNSPECIFIED;
    };
  }

  static RemovalReason reason(dev.contextstore.v1.RemovalReason reason) {
    return switch (reason) {
      case REMOVAL_REASON_STALE -> RemovalReason.STALE;
      case REMOVAL_REASON_INVALIDATED -> RemovalReason.INVALIDATED;
      case REMOVAL_REASON_EVICTED -> RemovalReason.EVICTED;
      default -> RemovalReason.UNSPECIFIED;
    };
  }

  static Stats stats(GetStatsResponse r) {
    return new Stats(
        r.getFiles(),
        r.getAnalyses(),
        r.getBytes(),
        r.getSessions(),
        r.getHits(),
        r.getMisses(),
        r.getEvictions(),
        r.getExpirations(),
        0); // a namespace's stats carry no held_bytes
  }

  static Stats storeStats(GetStoreStatsResponse r) {
    return new Stats(
        r.getFiles(),
        r.getAnalyses(),
        r.getBytes(),
        r.getSessions(),
        r.getHits(),
        r.getMisses(),
        r.getEvictions(),
        r.getExpirations(),
        r.getHeldBytes());
  }

  static ServerInfo serverInfo(GetServerInfoResponse r) {
    dev.contextstore.v1.Limits l = r.getLimits();
    Limits limits =
        new Limits(
            l.getMaxContentBytes(),
            l.getMaxMessageBytes(),
            l.getMaxBatchItems(),
            l.getMaxPathBytes(),
            l.getMaxSessionIdBytes(),
            l.getMaxAnalysisTypeBytes(),
            l.getMaxLabels(),
            l.getMaxLabelKeyBytes(),
            l.getMaxLabelValueBytes(),
            l.getTotalBytes(),
            l.getSessionBytes(),
            l.getSessionEntries(),
            duration(l.getSessionTtl()),
            l.getMaxConcurrentRpcs(),
            l.getMaxInflightResponseBytes(),
            duration(l.getReceiveTimeout()),
            l.getMaxWatchers(),
            duration(l.getWatchProgressInterval()),
            l.getWatchHistoryRevisions());
    return new ServerInfo(r.getVersion(), r.getBackend(), r.getBackendPropertiesMap(), limits);
  }
}
