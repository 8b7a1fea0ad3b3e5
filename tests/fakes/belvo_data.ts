// Belvo's JSON shapes (link, account, transaction, error arrays) rendered from the fake's state.
import {
  brtDay,
  cryptoHex32,
  isoMs,
  type LedgerEntry,
  mulberry32,
  pick,
  randomDigits,
  units,
} from "./random.ts";

/** Account category as Belvo names it. */
export type BelvoAccountCategory = "CHECKING_ACCOUNT" | "SAVINGS_ACCOUNT" | "CREDIT_CARD";

/** The fake's record of one account. */
export interface BelvoAccountState {
  id: string;
  linkId: string;
  institution: string;
  category: BelvoAccountCategory;
  number: string;
  agency: string;
  createdAtMs: number;
  entries: LedgerEntry[];
}

/** The fake's record of one link; `placed` holds every account's entries in API order. */
export interface BelvoLinkState {
  id: string;
  institution: string;
  externalId: string | null;
  institutionUserId: string;
  createdAtMs: number;
  accounts: BelvoAccountState[];
  placed: Placed[];
}

/** An entry with the account it belongs to. */
export interface Placed {
  entry: LedgerEntry;
  account: BelvoAccountState;
}

/** A transaction as `GET /api/transactions/` returns it. */
export interface BelvoTransaction {
  id: string;
  internal_identification: string;
  account: Record<string, unknown>;
  collected_at: string;
  created_at: string;
  value_date: string;
  accounting_date: string;
  amount: number;
  balance: number;
  currency: string;
  description: string;
  observations: string | null;
  merchant: { logo: string | null; website: string | null; name: string } | null;
  category: string | null;
  subcategory: string | null;
  reference: string;
  type: "INFLOW" | "OUTFLOW";
  status: "PROCESSED" | "PENDING";
  credit_card_data: Record<string, unknown> | null;
}

/** Belvo writes timestamps with microseconds: `2024-01-25T14:40:23.470000Z`. */
export function isoMicros(ms: number): string {
  return isoMs(ms).replace("Z", "000Z");
}

function currencyOf(institution: string): string {
  return institution.includes("_mx_") ? "MXN" : institution.includes("_co_") ? "COP" : "BRL";
}

/** Renders an account as `GET /api/accounts/` returns it. */
export function renderBelvoAccount(a: BelvoAccountState): Record<string, unknown> {
  const last = a.entries[a.entries.length - 1];
  const balance = units(last ? last.balanceCents : 0);
  const seen = isoMicros(Math.max(a.createdAtMs, last?.createdAtMs ?? 0));
  const card = a.category === "CREDIT_CARD";
  return {
    id: a.id,
    link: a.linkId,
    institution: { name: a.institution, type: "bank" },
    collected_at: seen,
    created_at: isoMicros(a.createdAtMs),
    last_accessed_at: seen,
    category: a.category,
    balance_type: card ? "LIABILITY" : "ASSET",
    type: card
      ? "Cartão de crédito"
      : a.category === "SAVINGS_ACCOUNT"
      ? "Poupança"
      : "Conta corrente",
    name: card ? "Cartão Visa Platinum" : "Conta Corrente",
    number: a.number,
    agency: card ? null : a.agency,
    bank_product_id: card ? "card-visa-platinum" : "checking-standard",
    internal_identification: a.id.slice(0, 8),
    public_identification_name: card ? "CREDIT_CARD_NUMBER" : "AGENCY/ACCOUNT",
    public_identification_value: card ? a.number : `${a.agency}/${a.number}`,
    currency: currencyOf(a.institution),
    balance: card
      ? { current: -balance, available: 20000 + balance }
      : { current: balance, available: balance },
    credit_data: card
      ? {
        credit_limit: 20000,
        collected_at: seen,
        cutting_date: "2025-01-05",
        next_payment_date: "2025-01-15",
        minimum_payment: Math.max(0, units(Math.round(-balance * 15))),
        no_interest_payment: Math.max(0, -balance),
        interest_rate: 9.5,
      }
      : null,
    loan_data: null,
    funds_data: null,
    receivables_data: null,
  };
}

const OUTFLOWS = [
  { description: "PIX ENVIADO", category: "Transfers", subcategory: "Transfers", merchant: null },
  {
    description: "SUPERMERCADO BOM PRECO",
    category: "Food & Groceries",
    subcategory: "Groceries",
    merchant: "Bom Preço",
  },
  {
    description: "UBER *TRIP",
    category: "Transport & Travel",
    subcategory: "Taxi & Rideshare",
    merchant: "Uber",
  },
  {
    description: "NETFLIX.COM",
    category: "Online Platforms & Leisure",
    subcategory: "Streaming",
    merchant: "Netflix",
  },
  {
    description: "CONTA DE LUZ",
    category: "Bills & Utilities",
    subcategory: "Electricity",
    merchant: "Enel",
  },
];
const INFLOWS = [
  { description: "PIX RECEBIDO", category: "Transfers", subcategory: "Transfers", merchant: null },
  { description: "SALARIO", category: "Income & Payments", subcategory: "Salary", merchant: null },
  {
    description: "ESTORNO COMPRA",
    category: "Income & Payments",
    subcategory: "Refunds",
    merchant: null,
  },
];

/** Renders one entry as Belvo's transaction, with `account` the already-rendered account. */
export function renderBelvoTransaction(
  a: BelvoAccountState,
  account: Record<string, unknown>,
  e: LedgerEntry,
): BelvoTransaction {
  const random = mulberry32(e.variant);
  const flavor = pick(random, e.credit ? INFLOWS : OUTFLOWS);
  const description = e.revision === 0
    ? flavor.description
    : `${flavor.description} (rev ${e.revision})`;
  const day = brtDay(e.dateMs);
  return {
    id: e.id,
    internal_identification: randomDigits(random, 12),
    account,
    collected_at: isoMicros(e.updatedAtMs),
    created_at: isoMicros(e.createdAtMs),
    value_date: day,
    accounting_date: `${day}T00:00:00Z`,
    amount: units(e.amountCents),
    balance: units(e.balanceCents),
    currency: currencyOf(a.institution),
    description,
    observations: null,
    merchant: flavor.merchant ? { logo: null, website: null, name: flavor.merchant } : null,
    category: flavor.category,
    subcategory: flavor.subcategory,
    reference: randomDigits(random, 8),
    type: e.credit ? "INFLOW" : "OUTFLOW",
    status: e.pending ? "PENDING" : "PROCESSED",
    credit_card_data: a.category === "CREDIT_CARD"
      ? {
        bill_name: `${day.slice(0, 7)}`,
        bill_status: "OPEN",
        bill_amount: null,
        previous_bill_total: null,
      }
      : null,
  };
}

/** Renders a link as `GET /api/links/{id}/` returns it. */
export function renderLink(l: BelvoLinkState): Record<string, unknown> {
  return {
    id: l.id,
    institution: l.institution,
    access_mode: "recurrent",
    last_accessed_at: isoMicros(Math.max(l.createdAtMs, l.placed.at(-1)?.entry.createdAtMs ?? 0)),
    created_at: isoMicros(l.createdAtMs),
    external_id: l.externalId,
    institution_user_id: l.institutionUserId,
    status: "valid",
    created_by: "6e3f9c4a-1d0b-4c55-9a57-2f4a1c6be201",
    refresh_rate: "24h",
    credentials_storage: "store",
    stale_in: "365d",
    fetch_resources: ["ACCOUNTS", "OWNERS", "TRANSACTIONS"],
  };
}

const ERRORS: Record<number, [string, string]> = {
  400: ["invalid", "Invalid request."],
  401: ["authentication_failed", "Invalid Secret Keys"],
  403: ["permission_denied", "You do not have permission to perform this action."],
  404: ["not_found", "Not found"],
  405: ["method_not_allowed", "Method not allowed."],
  408: ["request_timeout", "The request timed out. Please try again."],
  428: ["token_required", "A MFA token is required by the institution to login"],
  429: ["too_many_requests", "Too many requests. Please try again later."],
};

/** One Belvo error object, with a fresh 32-hex `request_id`. */
export function belvoErrorItem(
  code: string,
  message: string,
  field?: string,
): Record<string, string> {
  return { code, message, ...(field ? { field } : {}), request_id: cryptoHex32() };
}

/** Belvo's error array for a status. */
export function belvoError(status: number): { body: unknown } {
  const [code, message] = ERRORS[status] ??
    (status >= 500
      ? [
        "unexpected_error",
        "Belvo is unable to process the request due to an internal system issue or to an unsupported response from an institution",
      ]
      : ["invalid", "Invalid request."]);
  return { body: [belvoErrorItem(code, message)] };
}
