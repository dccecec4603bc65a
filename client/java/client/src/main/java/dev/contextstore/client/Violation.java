package dev.contextstore.client;

/**
 * One entry of a failed call's details: a bad field (from {@code google.rpc.BadRequest}) or an
 * exceeded limit (from {@code google.rpc.QuotaFailure}).
 *
 * @param subject the field (e.g. {@code files[3].path}) or the limit (e.g. {@code total_bytes})
 * @param description why
 */
public record Violation(String subject, String description) {}
