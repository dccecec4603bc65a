package dev.contextstore.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import com.google.rpc.QuotaFailure;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.ArrayList;
import java.util.List;

/**
 * A failed call: the gRPC status code, the server's message, and the violations the status
 * details name ({@code google.rpc.BadRequest} field violations for INVALID_ARGUMENT,
 * {@code google.rpc.QuotaFailure} subjects for RESOURCE_EXHAUSTED). A failed compare-and-set
 * (ABORTED with a {@code google.rpc.ErrorInfo} of reason {@code PRECONDITION_FAILED}) is the
 * subclass {@link PreconditionFailedException}; a Watch start revision the server no longer
 * retains (OUT_OF_RANGE with one of reason {@code REVISION_COMPACTED}) is the subclass {@link
 * RevisionCompactedException}.
 *
 * <p>Reads of a missing entry do not throw: they return {@link java.util.Optional#empty()}.
 */
public sealed class ContextStoreException extends RuntimeException
    permits PreconditionFailedException, RevisionCompactedException {
  private static final long serialVersionUID = 1L;

  private final Status.Code code;
  private final String description;
  private final List<Violation> fieldViolations;
  private final List<Violation> quotaViolations;

  public ContextStoreException(
      Status.Code code,
      String description,
      List<Violation> fieldViolations,
      List<Violation> quotaViolations,
      Throwable cause) {
    super(code + (description.isEmpty() ? "" : ": " + description), cause);
    this.code = code;
    this.description = description;
    this.fieldViolations = List.copyOf(fieldViolations);
    this.quotaViolations = List.copyOf(quotaViolations);
  }

  /** Translates a failed call, keeping the rich details the server attached. */
  public static ContextStoreException from(StatusRuntimeException error) {
    return from(error.getStatus(), StatusProto.fromThrowable(error), error);
  }

  /** Translates a failed call, keeping the rich details the server attached. */
  public static ContextStoreException from(StatusException error) {
    return from(error.getStatus(), StatusProto.fromThrowable(error), error);
  }

  private static ContextStoreException from(
      Status status, com.google.rpc.Status details, Throwable cause) {
    List<Violation> fields = new ArrayList<>();
    List<Violation> quotas = new ArrayList<>();
    List<ErrorInfo> infos = new ArrayList<>();
    if (details != null) {
      for (Any detail : details.getDetailsList()) {
        try {
          if (detail.is(BadRequest.class)) {
            BadRequest badRequest = detail.unpack(BadRequest.class);
            for (BadRequest.FieldViolation v : badRequest.getFieldViolationsList()) {
              fields.add(new Violation(v.getField(), v.getDescription()));
            }
          } else if (detail.is(QuotaFailure.class)) {
            for (QuotaFailure.Violation v : detail.unpack(QuotaFailure.class).getViolationsList()) {
              quotas.add(new Violation(v.getSubject(), v.getDescription()));
            }
          } else if (detail.is(ErrorInfo.class)) {
            infos.add(detail.unpack(ErrorInfo.class));
          }
        } catch (InvalidProtocolBufferException malformed) {
          // A detail that does not parse names nothing; the code and message still stand.
        }
      }
    }
    String description = status.getDescription() == null ? "" : status.getDescription();
    if (status.getCode() == Status.Code.ABORTED) {
      for (ErrorInfo info : infos) {
        var failed = PreconditionFailedException.from(info, description, cause);
        if (failed.isPresent()) {
          return failed.get();
        }
      }
    }
    if (status.getCode() == Status.Code.OUT_OF_RANGE) {
      for (ErrorInfo info : infos) {
        var compacted = RevisionCompactedException.from(info, description, cause);
        if (compacted.isPresent()) {
          return compacted.get();
        }
      }
    }
    return new ContextStoreException(status.getCode(), description, fields, quotas, cause);
  }

  /** The gRPC status code. */
  public Status.Code code() {
    return code;
  }

  /** The server's message (empty when it gave none). */
  public String description() {
    return description;
  }

  /** The fields a {@code google.rpc.BadRequest} detail names (INVALID_ARGUMENT). */
  public List<Violation> fieldViolations() {
    return fieldViolations;
  }

  /** The limits a {@code google.rpc.QuotaFailure} detail names (RESOURCE_EXHAUSTED). */
  public List<Violation> quotaViolations() {
    return quotaViolations;
  }

  /** Every violation, field violations first. */
  public List<Violation> violations() {
    List<Violation> all = new ArrayList<>(fieldViolations);
    all.addAll(quotaViolations);
    return List.copyOf(all);
  }
}
