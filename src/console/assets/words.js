// What the API's reason codes and amounts mean, in words a reader of the console can act on.

const REASONS = {
  credentials_rejected:
    "The vendor refused the stored credential: edit the connection with a new client id and secret.",
  account_not_found:
    "The vendor has no such item or link: check the account reference, or whether it was removed.",
  vendor_unreachable:
    "The vendor could not be reached, answered a server error, or its address is not allowed.",
  timeout: "The vendor did not answer in time.",
  rate_limited: "The vendor asked us to slow down.",
  unexpected_response: "The vendor answered something this service does not understand.",
  connection_deleted: "The connection was deleted.",
  credential_unreadable:
    "The key that sealed the credential is not configured: restore it, or enter the credential again.",
  worker_lost: "The worker running the pull stopped before finishing it.",
  internal_error: "The service failed unexpectedly while pulling.",
};

/** A reason code in words, the code kept for searching. */
export function reasonText(reason) {
  return `${REASONS[reason] ?? "The pull failed."} (${reason})`;
}

export const VENDOR_NAMES = { pluggy: "Pluggy", belvo: "Belvo" };

/** Each vendor's usual API base URL, offered when the type is picked. */
export const VENDOR_BASE_URLS = {
  pluggy: "https://api.pluggy.ai",
  belvo: "https://sandbox.belvo.com",
};

/** An exact decimal amount with its sign and currency: "+12.30 BRL", "−4.00 USD". */
export function amountText(amount, currency) {
  const negative = amount.startsWith("-");
  const digits = negative ? amount.slice(1) : amount;
  return `${negative ? "\u2212" : "+"}${digits}${currency ? ` ${currency}` : ""}`;
}
