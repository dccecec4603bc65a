package dev.contextstore.client;

import com.google.protobuf.ByteString;
import dev.contextstore.v1.BatchCacheFilesRequest;
import dev.contextstore.v1.BatchGetFilesRequest;
import dev.contextstore.v1.CacheAnalysisRequest;
import dev.contextstore.v1.CacheFileRequest;
import dev.contextstore.v1.ClearSessionRequest;
import dev.contextstore.v1.GetAnalysisRequest;
import dev.contextstore.v1.GetFileRequest;
import dev.contextstore.v1.GetMetadataRequest;
import dev.contextstore.v1.GetServerInfoRequest;
import dev.contextstore.v1.GetStatsRequest;
import dev.contextstore.v1.GetStoreStatsRequest;
import dev.contextstore.v1.InvalidateAnalysisRequest;
import dev.contextstore.v1.InvalidateFileRequest;
import dev.contextstore.v1.InvalidatePrefixRequest;
import dev.contextstore.v1.WatchRequest;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The request messages of {@link ContextStoreClient}'s typed methods, each for the namespace of a
 * handle: {@code sessionId} is its session, or {@code null} for the global namespace. (The
 * ListFiles request is {@link FileListing#request}.)
 */
final class Requests {
  private Requests() {}

  static CacheFileRequest cacheFile(
      String sessionId,
      String path,
      byte[] content,
      Map<String, String> labels,
      Instant mtime,
      Precondition precondition) {
    CacheFileRequest.Builder request =
        CacheFileRequest.newBuilder()
            .setPath(path)
            .setContent(ByteString.copyFrom(content))
            .putAllLabels(labels);
    if (mtime != null) {
      request.setMtime(Convert.timestamp(mtime));
    }
    Precondition.apply(precondition, request::setIfVersion, request::setIfSha256);
    if (sessionId != null) {
      request.setSessionId(sessionId);
    }
    return request.build();
  }

  static GetFileRequest getFile(String sessionId, String path, byte[] knownSha256) {
    GetFileRequest.Builder request = GetFileRequest.newBuilder().setPath(path);
    if (knownSha256 != null) {
      request.setKnownSha256(ByteString.copyFrom(knownSha256));
    }
    if (sessionId != null) {
      request.setSessionId(sessionId);
    }
    return request.build();
  }

  static GetMetadataRequest getMetadata(String sessionId, String path) {
    GetMetadataRequest.Builder request = GetMetadataRequest.newBuilder().setPath(path);
    if (sessionId != null) {
      request.setSessionId(sessionId);
    }
    return request.build();
  }

  static BatchGetFilesRequest batchGetFiles(
      String sessionId, List<String> paths, Map<String, byte[]> knownSha256) {
    BatchGetFilesRequest.Builder request = BatchGetFilesRequest.newBuilder().addAllPaths(paths);
    knownSha256.forEach((path, digest) -> request.putKnownSha256(path, ByteString.copyFrom(digest)));
    if (sessionId != null) {
      request.setSessionId(sessionId);
    }
    return request.build();
  }

  static BatchCacheFilesRequest batchCacheFiles(String sessionId, List<FileUpload> files) {
    BatchCacheFilesRequest.Builder request = BatchCacheFilesRequest.newBuilder();
    for (FileUpload file : files) {
      dev.contextstore.v1.FileUpload.Builder upload =
          dev.contextstore.v1.FileUpload.newBuilder()
              .setPath(file.path())
              .setContent(ByteString.copyFrom(file.content()))
              .putAllLabels(file.labels());
      if (file.mtime() != null) {
        upload.setMtime(Convert.timestamp(file.mtime()));
      }
      Precondition.apply(file.precondition(), upload::setIfVersion, upload::setIfSha256);
      request.addFiles(upload);
    }
    if (sessionId != null) {
      request.setSessionId(sessionId);
    }
    return request.build();
  }

  static CacheAnalysisRequest cacheAnalysis(
      String sessionId,
      String path,
      String analysisType,
      byte[] result,
      Precondition precondition) {
    CacheAnalysisRequest.Builder request =
        CacheAnalysisRequest.newBuilder()
            .setPath(path)
            .setAnalysisType(analysisType)
            .setResult(ByteString.copyFrom(result));
    Precondition.apply(precondition, request::setIfVersion, request::setIfSha256);
    if (sessionId != null) {
      request.setSessionId(sessionId);
    }
    return request.build();
  }

  static GetAnalysisRequest getAnalysis(String sessionId, String path, String analysisType) {
    GetAnalysisRequest.Builder request =
        GetAnalysisRequest.newBuilder().setPath(path).setAnalysisType(analysisType);
    if (sessionId != null) {
      request.setSessionId(sessionId);
    }
    return request.build();
  }

  static InvalidateFileRequest invalidateFile(
      String sessionId, String path, Precondition precondition) {
    InvalidateFileRequest.Builder request = InvalidateFileRequest.newBuilder().setPath(path);
    Precondition.apply(precondition, request::setIfVersion, request::setIfSha256);
    if (sessionId != null) {
      request.setSessionId(sessionId);
    }
    return request.build();
  }

  /** Every analysis of the path, or only {@code analysisType}'s. */
  static InvalidateAnalysisRequest invalidateAnalysis(
      String sessionId, String path, Optional<String> analysisType) {
    InvalidateAnalysisRequest.Builder request =
        InvalidateAnalysisRequest.newBuilder().setPath(path);
    analysisType.ifPresent(request::setAnalysisType);
    if (sessionId != null) {
      request.setSessionId(sessionId);
    }
    return request.build();
  }

  static InvalidatePrefixRequest invalidatePrefix(String sessionId, String pathPrefix) {
    InvalidatePrefixRequest.Builder request =
        InvalidatePrefixRequest.newBuilder().setPathPrefix(pathPrefix);
    if (sessionId != null) {
      request.setSessionId(sessionId);
    }
    return request.build();
  }

  static ClearSessionRequest clearSession(String sessionId) {
    ClearSessionRequest.Builder request = ClearSessionRequest.newBuilder();
    if (sessionId != null) {
      request.setSessionId(sessionId);
    }
    return request.build();
  }

  static GetStatsRequest getStats(String sessionId) {
    GetStatsRequest.Builder request = GetStatsRequest.newBuilder();
    if (sessionId != null) {
      request.setSessionId(sessionId);
    }
    return request.build();
  }

  /** {@code startRevision} is sent as is: a negative one is the server's to refuse. */
  static WatchRequest watch(String sessionId, long startRevision, String pathPrefix) {
    WatchRequest.Builder request =
        WatchRequest.newBuilder()
            .setStartRevision(startRevision)
            .setPathPrefix(pathPrefix == null ? "" : pathPrefix);
    if (sessionId != null) {
      request.setSessionId(sessionId);
    }
    return request.build();
  }

  static GetStoreStatsRequest getStoreStats() {
    return GetStoreStatsRequest.getDefaultInstance();
  }

  static GetServerInfoRequest getServerInfo() {
    return GetServerInfoRequest.getDefaultInstance();
  }
}
