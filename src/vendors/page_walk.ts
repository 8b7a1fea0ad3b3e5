// One walk through a vendor's linked pages: no page read twice, and no more pages than the cap.

/** Why a walk of pages was stopped; each ends a pull `failed` under the same reason. */
export type PageWalkReason = "page_cycle" | "too_many_pages";

/**
 * A walk the vendor's links would never end: a link back to a page the walk already read (A → B →
 * A loops forever), or more pages than the cap (a link that runs on). Retrying cannot help, so it
 * is not a VendorError that the retry logic might try again.
 */
export class PageWalkError extends Error {
  constructor(readonly reason: PageWalkReason, message: string) {
    super(message);
    this.name = "PageWalkError";
  }
}

/**
 * Tracks one walk: `fetching(url)` as each page is requested, so that every page fetched before
 * the refusal is handed out (and stored) first. The links are kept only for the walk's life (a
 * resumed walk starts a new set from its resume point, and finds a cycle within one lap of it);
 * the page count starts at `pagesBefore`, the pages earlier attempts of the walk stored.
 */
export class PageWalk {
  readonly #seen = new Set<string>();
  #pages: number;

  constructor(
    readonly operation: string,
    readonly maxPages: number,
    pagesBefore = 0,
  ) {
    this.#pages = pagesBefore;
  }

  /** Records that `url` is about to be fetched; throws unless it is new to the walk and in the cap. */
  fetching(url: URL): void {
    if (this.#seen.has(url.href)) {
      throw new PageWalkError(
        "page_cycle",
        `${this.operation}: a next link leads back to a page this walk already read`,
      );
    }
    if (this.#pages >= this.maxPages) {
      throw new PageWalkError(
        "too_many_pages",
        `${this.operation}: more than ${this.maxPages} pages in one walk ` +
          "(MATCHER_PULL_MAX_PAGES_PER_WALK)",
      );
    }
    this.#seen.add(url.href);
    this.#pages++;
  }
}
