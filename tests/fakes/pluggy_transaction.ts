// How Pluggy renders one transaction: descriptions, categories, payment and card metadata.
import { cpf, OWNERS, type PluggyAccountState } from "./pluggy_data.ts";
import {
  brtDay,
  isoMs,
  type LedgerEntry,
  mulberry32,
  pick,
  type Random,
  randomDigits,
  randomInt,
  units,
} from "./random.ts";

/** A transaction as `GET /transactions` and `GET /v2/transactions` return it. */
export interface PluggyTransaction {
  id: string;
  description: string;
  descriptionRaw: string | null;
  currencyCode: string;
  amount: number;
  amountInAccountCurrency: number | null;
  date: string;
  category: string | null;
  categoryId: string | null;
  balance: number;
  accountId: string;
  providerCode: string | null;
  status: "POSTED" | "PENDING";
  paymentData: Record<string, unknown> | null;
  type: "DEBIT" | "CREDIT";
  operationType: string | null;
  operationTypeAdditionalInfo: string | null;
  creditCardMetadata: Record<string, unknown> | null;
  merchant: Record<string, unknown> | null;
  providerId: string | null;
  createdAt: string;
  updatedAt: string;
}

interface Flavor {
  description: string;
  operationType: string | null;
  category: string;
  categoryId: string;
  merchant?: string;
  mcc?: number;
}

const BANK_DEBITS: Flavor[] = [
  {
    description: "PIX ENVIADO",
    operationType: "PIX",
    category: "Transfer - PIX",
    categoryId: "05070000",
  },
  {
    description: "PAGAMENTO DE BOLETO",
    operationType: "BOLETO",
    category: "Bank slip",
    categoryId: "05100000",
  },
  {
    description: "COMPRA CARTAO DEBITO",
    operationType: "CARTAO",
    category: "Groceries",
    categoryId: "08010000",
    merchant: "SUPERMERCADO BOM PRECO",
  },
  {
    description: "TARIFA PACOTE SERVICOS",
    operationType: "TARIFA_SERVICOS_AVULSOS",
    category: "Bank fees",
    categoryId: "16000000",
  },
  {
    description: "TED ENVIADA",
    operationType: "TED",
    category: "Transfer - TED",
    categoryId: "05050000",
  },
];
const BANK_CREDITS: Flavor[] = [
  {
    description: "PIX RECEBIDO",
    operationType: "PIX",
    category: "Transfer - PIX",
    categoryId: "05070000",
  },
  { description: "SALARIO", operationType: "TED", category: "Salary", categoryId: "01010000" },
  {
    description: "RENDIMENTO POUPANCA",
    operationType: "OUTROS",
    category: "Interests",
    categoryId: "03060000",
  },
];
const CARD_DEBITS: Flavor[] = [
  {
    description: "IFOOD *RESTAURANTE",
    operationType: null,
    category: "Eating out",
    categoryId: "08030000",
    merchant: "IFOOD",
    mcc: 5812,
  },
  {
    description: "UBER *TRIP",
    operationType: null,
    category: "Taxi and ride-hailing",
    categoryId: "19030000",
    merchant: "UBER DO BRASIL",
    mcc: 4121,
  },
  {
    description: "NETFLIX.COM",
    operationType: null,
    category: "Video streaming",
    categoryId: "13020000",
    merchant: "NETFLIX",
    mcc: 4899,
  },
  {
    description: "AMAZON MARKETPLACE",
    operationType: null,
    category: "Online shopping",
    categoryId: "07010000",
    merchant: "AMAZON SERVICOS DE VAREJO",
    mcc: 5942,
  },
  {
    description: "DROGASIL",
    operationType: null,
    category: "Pharmacy",
    categoryId: "14020000",
    merchant: "RAIA DROGASIL",
    mcc: 5912,
  },
  {
    description: "POSTO SHELL",
    operationType: null,
    category: "Gas stations",
    categoryId: "19050000",
    merchant: "RAIZEN",
    mcc: 5541,
  },
];
const CARD_CREDITS: Flavor[] = [
  {
    description: "PAGAMENTO RECEBIDO",
    operationType: null,
    category: "Credit card payment",
    categoryId: "05100001",
  },
  {
    description: "ESTORNO COMPRA",
    operationType: null,
    category: "Refund",
    categoryId: "01050000",
  },
];

function party(random: Random, name: string): Record<string, unknown> {
  return {
    name,
    documentNumber: { type: "CPF", value: cpf(random) },
    accountNumber: randomDigits(random, 6),
    branchNumber: randomDigits(random, 4),
    routingNumber: randomDigits(random, 3),
    routingNumberISPB: randomDigits(random, 8),
  };
}

/** Renders one ledger entry as Pluggy's transaction object. */
export function renderTransaction(account: PluggyAccountState, e: LedgerEntry): PluggyTransaction {
  const random = mulberry32(e.variant);
  const card = account.type === "CREDIT";
  const flavor = pick(
    random,
    card ? (e.credit ? CARD_CREDITS : CARD_DEBITS) : (e.credit ? BANK_CREDITS : BANK_DEBITS),
  );
  const counterpart = pick(random, OWNERS);
  const description = e.revision === 0
    ? flavor.description
    : `${flavor.description} (rev ${e.revision})`;
  // Bank debits are negative (seen in a captured fixture); card purchases are positive and card
  // payments negative, so clients must read `type`, never the sign.
  const signed = card
    ? (e.credit ? -e.amountCents : e.amountCents)
    : (e.credit ? e.amountCents : -e.amountCents);
  const merchant = flavor.merchant
    ? {
      name: flavor.merchant,
      businessName: `${flavor.merchant} LTDA`,
      cnpj: randomDigits(random, 14),
      cnae: randomDigits(random, 7),
      category: flavor.category,
    }
    : null;
  const paymentData = !card && flavor.operationType === "PIX"
    ? {
      payer: e.credit ? party(random, counterpart) : party(random, account.owner),
      receiver: e.credit ? party(random, account.owner) : party(random, counterpart),
      paymentMethod: "PIX",
      referenceNumber: null,
      reason: null,
      receiverReferenceId: null,
      boletoMetadata: null,
    }
    : null;
  const installments = card && !e.credit && random() < 0.2 ? randomInt(random, 2, 12) : 1;
  const creditCardMetadata = card
    ? {
      installmentNumber: 1,
      totalInstallments: installments,
      totalAmount: units(e.amountCents * installments),
      purchaseDate: isoMs(e.dateMs),
      payeeMCC: flavor.mcc ?? null,
      cardNumber: account.number.slice(-4),
      billId: null,
    }
    : null;
  return {
    id: e.id,
    description,
    descriptionRaw: `${description} ${brtDay(e.dateMs).slice(5).replace("-", "/")} ${
      randomDigits(random, 6)
    }`,
    currencyCode: "BRL",
    amount: units(signed),
    amountInAccountCurrency: null,
    date: isoMs(e.dateMs),
    category: flavor.category,
    categoryId: flavor.categoryId,
    balance: units(e.balanceCents),
    accountId: account.id,
    providerCode: randomDigits(random, 3),
    status: e.pending ? "PENDING" : "POSTED",
    paymentData,
    type: e.credit ? "CREDIT" : "DEBIT",
    operationType: flavor.operationType,
    operationTypeAdditionalInfo: null,
    creditCardMetadata,
    merchant,
    providerId: randomDigits(random, 12),
    createdAt: isoMs(e.createdAtMs),
    updatedAt: isoMs(e.updatedAtMs),
  };
}
