/**
 * Listing a namespace's files (ListFiles): AIP-158 paging in path order. `listFilesPage` on a
 * handle fetches one page (the caller keeps the token); `listFiles` is an async generator over
 * every page, fetching the next one only when the files of the previous are consumed.
 */

import type * as pb from "./gen/contextstore/v1/context_store";
import type { CallOptions } from "./client";

/** Which files `listFiles` / `listFilesPage` list, and how many a page holds. */
export interface ListFilesOptions extends CallOptions {
  /** Only paths that start with it (compared as UTF-8 bytes); absent or `""`: every path. */
  pathPrefix?: string | undefined;
  /**
   * Most files in one page: absent or `0` means the server's default (100); more than 1000
   * means 1000. A page may hold fewer and still not be the last.
   */
  pageSize?: number | undefined;
}

/** One page: `pageToken` is the previous page's `nextPageToken` (absent or `""`: the first). */
export interface ListFilesPageOptions extends ListFilesOptions {
  /** From a `ListFiles` call with the same session and `pathPrefix`. */
  pageToken?: string | undefined;
}

/** One page of files, in path order. */
export interface FilesPage {
  files: pb.FileMetadata[];
  /** Pass it back as `pageToken` for the next page; `""` on the last page. */
  nextPageToken: string;
  /** The namespace's revision this page was read at: `watch` from it to see every later change. */
  revision: bigint;
}

function int32(value: number | undefined, name: string): number {
  if (value === undefined) return 0;
  if (!Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 31) {
    throw new TypeError(`${name} must be a 32-bit integer, got ${value}`);
  }
  return value; // a negative one is sent as is: the server rejects it (INVALID_ARGUMENT page_size)
}

/** The ListFiles request of a handle bound to `sessionId` (`undefined`: the global namespace). */
export function listFilesRequest(
  sessionId: string | undefined,
  options: ListFilesPageOptions,
): pb.ListFilesRequest {
  return {
    sessionId,
    pathPrefix: options.pathPrefix ?? "",
    pageSize: int32(options.pageSize, "pageSize"),
    pageToken: options.pageToken ?? "",
  };
}

/**
 * Every file of every page, in order: the first page (`pageToken` `""`) when iteration starts,
 * each next page once the previous one's files are consumed, until a page whose
 * `nextPageToken` is empty. An empty page that is not the last is followed through.
 */
export async function* allFiles(
  fetchPage: (pageToken: string) => Promise<FilesPage>,
): AsyncGenerator<pb.FileMetadata, void, undefined> {
  let pageToken = "";
  do {
    const page = await fetchPage(pageToken);
    yield* page.files;
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
}
