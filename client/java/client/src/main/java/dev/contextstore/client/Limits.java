package dev.contextstore.client;

import java.time.Duration;

/**
 * The bounds the server enforces; a budget of 0 means none.
 *
 * @param maxContentBytes largest content or analysis result
 * @param maxMessageBytes largest gRPC message
 * @param maxBatchItems most items in one batch call
 * @param maxPathBytes longest path
 * @param maxSessionIdBytes longest session id
 * @param maxAnalysisTypeBytes longest analysis type
 * @param maxLabels most labels on one file
 * @param maxLabelKeyBytes longest label key
 * @param maxLabelValueBytes longest label value
 * @param totalBytes byte budget of the whole store
 * @param sessionBytes byte budget of each namespace
 * @param sessionEntries entry budget of each namespace
 * @param sessionTtl idle time before a session expires ({@link Duration#ZERO}: never)
 * @param maxConcurrentRpcs calls admitted at once, counted from arrival until the response is
 *     sent; past it a call gets RESOURCE_EXHAUSTED at once
 * @param maxInflightResponseBytes total size of responses built but not yet sent; a call that
 *     would pass it gets RESOURCE_EXHAUSTED
 * @param receiveTimeout how long a call's request message may take to arrive before the call is
 *     cancelled
 * @param maxWatchers Watch streams open at once; past it Watch gets RESOURCE_EXHAUSTED
 * @param watchProgressInterval how often an idle Watch stream gets a progress response
 * @param watchHistoryRevisions revisions of history kept per namespace for Watch to resume from
 */
public record Limits(
    long maxContentBytes,
    long maxMessageBytes,
    long maxBatchItems,
    long maxPathBytes,
    long maxSessionIdBytes,
    long maxAnalysisTypeBytes,
    long maxLabels,
    long maxLabelKeyBytes,
    long maxLabelValueBytes,
    long totalBytes,
    long sessionBytes,
    long sessionEntries,
    Duration sessionTtl,
    long maxConcurrentRpcs,
    long maxInflightResponseBytes,
    Duration receiveTimeout,
    long maxWatchers,
    Duration watchProgressInterval,
    long watchHistoryRevisions) {}
