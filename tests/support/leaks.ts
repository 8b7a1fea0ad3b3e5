// Searches the places a secret could leave or rest by: captured texts, every database row, Deno KV.
import type { Sql } from "../../src/db/pool.ts";

/** A secret and the simple encodings a careless line of code would write it in. */
export function encodings(secret: string): string[] {
  const bytes = new TextEncoder().encode(secret);
  return [
    ...new Set([
      secret,
      encodeURIComponent(secret),
      new URLSearchParams({ x: secret }).toString().slice(2),
      JSON.stringify(secret).slice(1, -1),
      bytes.toBase64(),
      bytes.toBase64({ alphabet: "base64url", omitPadding: true }),
    ]),
  ];
}

/** A token's SHA-256 as hex, base64 and base64url. */
export async function hashForms(token: string): Promise<string[]> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)),
  );
  return [
    digest.toHex(),
    digest.toBase64(),
    digest.toBase64({ alphabet: "base64url", omitPadding: true }),
  ];
}

/** `label: needle` for each needle found in a text. */
export function hits(texts: Array<{ label: string; text: string }>, needles: string[]): string[] {
  return texts.flatMap(({ label, text }) =>
    needles.filter((n) => text.includes(n)).map((n) => `${label}: ${n}`)
  );
}

/**
 * Every row of every table in the public schema, cast to text (so every text, varchar, json and
 * jsonb column is in it), and the raw bytes of every bytea column decoded as latin1 (so plaintext
 * inside a sealed blob would show).
 */
export async function databaseTexts(sql: Sql): Promise<Array<{ label: string; text: string }>> {
  const tables = await sql<{ table_name: string }[]>`
    select table_name from information_schema.tables
    where table_schema = 'public' and table_type = 'BASE TABLE'`;
  const byteColumns = await sql<{ table_name: string; column_name: string }[]>`
    select table_name, column_name from information_schema.columns
    where table_schema = 'public' and data_type = 'bytea'`;
  const texts: Array<{ label: string; text: string }> = [];
  for (const { table_name } of tables) {
    const rows = await sql<{ row: string }[]>`select t::text as row from ${sql(table_name)} t`;
    texts.push({ label: `table ${table_name}`, text: rows.map((r) => r.row).join("\n") });
  }
  const latin1 = new TextDecoder("latin1");
  for (const { table_name, column_name } of byteColumns) {
    const rows = await sql<{ bytes: Uint8Array | null }[]>`
      select ${sql(column_name)} as bytes from ${sql(table_name)}`;
    const text = rows.map((r) => (r.bytes ? latin1.decode(r.bytes) : "")).join("\n");
    texts.push({ label: `bytea ${table_name}.${column_name}`, text });
  }
  return texts;
}

/** Every key and value in the KV store, as one text. */
export async function kvText(kv: Deno.Kv): Promise<string> {
  const lines: string[] = [];
  for await (const entry of kv.list({ prefix: [] })) {
    lines.push(JSON.stringify(
      { key: entry.key, value: entry.value },
      (_k, v) => (typeof v === "bigint" ? v.toString() : v),
    ));
  }
  return lines.join("\n");
}

/**
 * A minted header secret in every form a leak could take: the header's value as configured
 * (`Bearer mwhs_...` for Belvo) and the bare secret, each in the encodings above.
 */
export function headerSecretForms(value: string): string[] {
  const bare = value.replace(/^Bearer /, "");
  return [...new Set([...encodings(value), ...encodings(bare)])];
}
