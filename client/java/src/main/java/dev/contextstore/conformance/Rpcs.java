package dev.contextstore.conformance;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import dev.contextstore.v1.BatchCacheFilesRequest;
import dev.contextstore.v1.BatchGetFilesRequest;
import dev.contextstore.v1.CacheAnalysisRequest;
import dev.contextstore.v1.CacheFileRequest;
import dev.contextstore.v1.ClearSessionRequest;
import dev.contextstore.v1.ContextStoreServiceGrpc.ContextStoreServiceBlockingStub;
import dev.contextstore.v1.GetAnalysisRequest;
import dev.contextstore.v1.GetFileRequest;
import dev.contextstore.v1.GetMetadataRequest;
import dev.contextstore.v1.GetServerInfoRequest;
import dev.contextstore.v1.GetStatsRequest;
import dev.contextstore.v1.InvalidateAnalysisRequest;
import dev.contextstore.v1.InvalidateFileRequest;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.Supplier;

/** Every method of ContextStoreService by name, on the typed generated stub. */
final class Rpcs {
  private Rpcs() {}

  /** One method: how its request is read from proto3 JSON and how the stub sends it. */
  static final class Rpc<B extends Message.Builder, Q extends Message> {
    private final Supplier<B> newBuilder;
    private final Function<B, Q> build;
    private final BiFunction<ContextStoreServiceBlockingStub, Q, ? extends Message> send;

    Rpc(
        Supplier<B> newBuilder,
        Function<B, Q> build,
        BiFunction<ContextStoreServiceBlockingStub, Q, ? extends Message> send) {
      this.newBuilder = newBuilder;
      this.build = build;
      this.send = send;
    }

    /** The request, parsed strictly: an unknown field is an error of the case file. */
    Q parse(String json) throws InvalidProtocolBufferException {
      B builder = newBuilder.get();
      JsonFormat.parser().merge(json, builder);
      return build.apply(builder);
    }

    Message send(ContextStoreServiceBlockingStub stub, Q request) {
      return send.apply(stub, request);
    }
  }

  static final Map<String, Rpc<?, ?>> BY_NAME =
      Map.ofEntries(
          Map.entry(
              "CacheFile",
              new Rpc<>(
                  CacheFileRequest::newBuilder,
                  CacheFileRequest.Builder::build,
                  ContextStoreServiceBlockingStub::cacheFile)),
          Map.entry(
              "GetFile",
              new Rpc<>(
                  GetFileRequest::newBuilder,
                  GetFileRequest.Builder::build,
                  ContextStoreServiceBlockingStub::getFile)),
          Map.entry(
              "GetMetadata",
              new Rpc<>(
                  GetMetadataRequest::newBuilder,
                  GetMetadataRequest.Builder::build,
                  ContextStoreServiceBlockingStub::getMetadata)),
          Map.entry(
              "CacheAnalysis",
              new Rpc<>(
                  CacheAnalysisRequest::newBuilder,
                  CacheAnalysisRequest.Builder::build,
                  ContextStoreServiceBlockingStub::cacheAnalysis)),
          Map.entry(
              "GetAnalysis",
              new Rpc<>(
                  GetAnalysisRequest::newBuilder,
                  GetAnalysisRequest.Builder::build,
                  ContextStoreServiceBlockingStub::getAnalysis)),
          Map.entry(
              "InvalidateFile",
              new Rpc<>(
                  InvalidateFileRequest::newBuilder,
                  InvalidateFileRequest.Builder::build,
                  ContextStoreServiceBlockingStub::invalidateFile)),
          Map.entry(
              "InvalidateAnalysis",
              new Rpc<>(
                  InvalidateAnalysisRequest::newBuilder,
                  InvalidateAnalysisRequest.Builder::build,
                  ContextStoreServiceBlockingStub::invalidateAnalysis)),
          Map.entry(
              "ClearSession",
              new Rpc<>(
                  ClearSessionRequest::newBuilder,
                  ClearSessionRequest.Builder::build,
                  ContextStoreServiceBlockingStub::clearSession)),
          Map.entry(
              "BatchGetFiles",
              new Rpc<>(
                  BatchGetFilesRequest::newBuilder,
                  BatchGetFilesRequest.Builder::build,
                  ContextStoreServiceBlockingStub::batchGetFiles)),
          Map.entry(
              "BatchCacheFiles",
              new Rpc<>(
                  BatchCacheFilesRequest::newBuilder,
                  BatchCacheFilesRequest.Builder::build,
                  ContextStoreServiceBlockingStub::batchCacheFiles)),
          Map.entry(
              "GetStats",
              new Rpc<>(
                  GetStatsRequest::newBuilder,
                  GetStatsRequest.Builder::build,
                  ContextStoreServiceBlockingStub::getStats)),
          Map.entry(
              "GetServerInfo",
              new Rpc<>(
                  GetServerInfoRequest::newBuilder,
                  GetServerInfoRequest.Builder::build,
                  ContextStoreServiceBlockingStub::getServerInfo)));
}
