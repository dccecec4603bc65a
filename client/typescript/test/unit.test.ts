// Unit tests that need no server: `make test` (node --test).
import assert from "node:assert/strict";
import { test } from "node:test";

import { Metadata } from "@grpc/grpc-js";

import { timestampFromDate, timestampToDate } from "../src/client";
import { ContextStoreError, Status, decodeStatusDetails, toContextStoreError } from "../src/errors";
import { BadRequest, QuotaFailure } from "../src/gen/google/rpc/error_details";
import { Status as RpcStatus } from "../src/gen/google/rpc/status";

test("the status details decode into field violations and quota subjects", () => {
  const status = RpcStatus.encode({
    code: Status.INVALID_ARGUMENT,
    message: "bad",
    details: [
      {
        typeUrl: "type.googleapis.com/google.rpc.BadRequest",
        value: Buffer.from(
          BadRequest.encode({
            fieldViolations: [
              { field: "path", description: "empty", reason: "", localizedMessage: undefined },
              { field: "files[3].path", description: "empty", reason: "", localizedMessage: undefined },
            ],
          }).finish(),
        ),
      },
      {
        typeUrl: "type.googleapis.com/google.rpc.QuotaFailure",
        value: Buffer.from(
          QuotaFailure.encode(
            QuotaFailure.fromPartial({ violations: [{ subject: "session_bytes", description: "over" }] }),
          ).finish(),
        ),
      },
    ],
  }).finish();
  const metadata = new Metadata();
  metadata.set("grpc-status-details-bin", Buffer.from(status));
  const details = decodeStatusDetails(metadata);
  assert.deepEqual(details.fieldViolations.map((v) => v.field), ["path", "files[3].path"]);
  assert.deepEqual(details.quotaViolations.map((v) => v.subject), ["session_bytes"]);

  const error = toContextStoreError(
    Object.assign(new Error("3 INVALID_ARGUMENT: bad"), { code: Status.INVALID_ARGUMENT, details: "bad", metadata }),
  );
  assert.ok(error instanceof ContextStoreError);
  assert.equal(error.codeName, "INVALID_ARGUMENT");
  assert.deepEqual(error.fields, ["path", "files[3].path"]);
  assert.deepEqual(error.quotaSubjects, ["session_bytes"]);
});

test("timestamps convert to and from Date", () => {
  const date = new Date("1969-12-31T23:59:59.250Z");
  assert.deepEqual(timestampFromDate(date), { seconds: -1n, nanos: 250_000_000 });
  assert.equal(timestampToDate(timestampFromDate(date)).getTime(), date.getTime());
});
