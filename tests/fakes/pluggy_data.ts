// Pluggy's JSON shapes for items, accounts and errors, and the fake's records behind them.
import { isoMs, type LedgerEntry, pick, type Random, randomDigits, units } from "./random.ts";

/** Account type as Pluggy names it. */
export type PluggyAccountType = "BANK" | "CREDIT";

/** The fake's record of one account; rendered by `renderAccount`. */
export interface PluggyAccountState {
  id: string;
  itemId: string;
  type: PluggyAccountType;
  entries: LedgerEntry[];
  number: string;
  owner: string;
  taxNumber: string;
  createdAtMs: number;
}

/** The fake's record of one item; rendered by `renderItem`. */
export interface PluggyItemState {
  id: string;
  clientUserId: string;
  status: string;
  executionStatus: string;
  createdAtMs: number;
  accounts: PluggyAccountState[];
}

/** Names the fake gives account owners and counterparts. */
export const OWNERS = [
  "Ana Souza",
  "Bruno Lima",
  "Carla Dias",
  "Diego Alves",
  "Elisa Rocha",
  "Felipe Nunes",
];

/** A formatted CPF drawn from `random`. */
export function cpf(random: Random): string {
  const d = randomDigits(random, 11);
  return `${d.slice(0, 3)}.${d.slice(3, 6)}.${d.slice(6, 9)}-${d.slice(9)}`;
}

/** Renders an account as `GET /accounts` returns it. */
export function renderAccount(a: PluggyAccountState): Record<string, unknown> {
  const last = a.entries[a.entries.length - 1];
  const balance = units(last ? last.balanceCents : 0);
  const timestamps = {
    createdAt: isoMs(a.createdAtMs),
    updatedAt: isoMs(last?.createdAtMs ?? a.createdAtMs),
  };
  if (a.type === "BANK") {
    return {
      id: a.id,
      type: "BANK",
      subtype: "CHECKING_ACCOUNT",
      number: a.number,
      name: "Conta Corrente",
      marketingName: "Conta Corrente Pluggy",
      balance,
      itemId: a.itemId,
      taxNumber: a.taxNumber,
      owner: a.owner,
      currencyCode: "BRL",
      bankData: {
        transferNumber: `0001/${a.number}`,
        closingBalance: balance,
        automaticallyInvestedBalance: 0,
        overdraftContractedLimit: 1000,
        overdraftUsedLimit: 0,
        unarrangedOverdraftAmount: 0,
      },
      creditData: null,
      ...timestamps,
    };
  }
  return {
    id: a.id,
    type: "CREDIT",
    subtype: "CREDIT_CARD",
    number: a.number,
    name: "Mastercard Black",
    marketingName: "Pluggy Black",
    balance: -balance,
    itemId: a.itemId,
    taxNumber: a.taxNumber,
    owner: a.owner,
    currencyCode: "BRL",
    bankData: null,
    creditData: {
      level: "BLACK",
      brand: "MASTERCARD",
      balanceCloseDate: isoMs(Date.UTC(2025, 0, 5, 3)),
      balanceDueDate: isoMs(Date.UTC(2025, 0, 15, 3)),
      availableCreditLimit: 20000 + balance,
      balanceForeignCurrency: null,
      minimumPayment: Math.max(0, units(Math.round(-balance * 15))),
      creditLimit: 20000,
      isLimitFlexible: false,
      holderType: "MAIN",
      status: "ACTIVE",
    },
    ...timestamps,
  };
}

/** The sandbox connector, "Pluggy Bank" (id 0). */
const CONNECTOR = {
  id: 0,
  name: "Pluggy Bank",
  institutionUrl: "https://pluggy.ai",
  imageUrl: "https://cdn.pluggy.ai/assets/connector-icons/sandbox.svg",
  primaryColor: "ef294b",
  type: "PERSONAL_BANK",
  country: "BR",
  credentials: [],
  hasMFA: false,
  oauth: false,
  health: { status: "ONLINE", stage: null },
  products: ["ACCOUNTS", "CREDIT_CARDS", "TRANSACTIONS", "IDENTITY"],
  isSandbox: true,
  isOpenFinance: false,
  createdAt: "2020-09-07T00:08:06.588Z",
  updatedAt: "2024-11-26T14:04:35.437Z",
};

/** Renders an item as `GET /items/{id}` returns it. */
export function renderItem(item: PluggyItemState): Record<string, unknown> {
  const lastSync = Math.max(
    item.createdAtMs,
    ...item.accounts.map((a) => a.entries.at(-1)?.createdAtMs ?? 0),
  );
  return {
    id: item.id,
    connector: CONNECTOR,
    createdAt: isoMs(item.createdAtMs),
    updatedAt: isoMs(lastSync),
    status: item.status,
    executionStatus: item.executionStatus,
    lastUpdatedAt: isoMs(lastSync),
    webhookUrl: null,
    error: null,
    clientUserId: item.clientUserId,
    consecutiveFailedLoginAttempts: 0,
    statusDetail: null,
    parameter: null,
    userAction: null,
    nextAutoSyncAt: null,
    consentExpiresAt: null,
    products: CONNECTOR.products,
  };
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** Pluggy's error body (and, for 429, its rate-limit headers) for a status. */
export function pluggyError(status: number): { body: unknown; headers?: Record<string, string> } {
  if (status === 429) {
    return {
      body: { message: "Too many requests, please try again later.", code: 429 },
      headers: {
        "Retry-After": "60",
        "RateLimit-Limit": "360",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "60",
      },
    };
  }
  return { body: { code: status, message: REASONS[status] ?? "Error" } };
}

/** Owner, tax number and account number for a new account, drawn from `random`. */
export function accountIdentity(random: Random, type: PluggyAccountType) {
  return {
    number: type === "BANK"
      ? `${randomDigits(random, 5)}-${randomDigits(random, 1)}`
      : `5162****${randomDigits(random, 4)}`,
    owner: pick(random, OWNERS),
    taxNumber: cpf(random),
  };
}
