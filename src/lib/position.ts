// A row's place in a newest-first keyset list: the order every list of the API pages in.

/** The last row of a page: the next page starts after `(createdAt, id)`. */
export type Position = { createdAt: Date; id: string };
