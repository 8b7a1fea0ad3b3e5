// Sealing of a connection's aggregator credential, bound to the tenant, the connection and the vendor.
import { type KeyRing, seal, unseal } from "../crypto/seal.ts";
import type { Credential } from "../vendors/aggregator.ts";

export type CredentialContext = { tenantId: string; connectionId: string; vendor: string };

function aad({ tenantId, connectionId, vendor }: CredentialContext) {
  return new TextEncoder().encode(`matcher/credential/v1\0${tenantId}\0${connectionId}\0${vendor}`);
}

export function sealCredential(
  ring: KeyRing,
  context: CredentialContext,
  credential: Credential,
): Promise<Uint8Array<ArrayBuffer>> {
  const plaintext = new TextEncoder().encode(
    JSON.stringify({ clientId: credential.clientId, secret: credential.secret }),
  );
  return seal(ring, plaintext, aad(context));
}

/** Fails (SealError) when the blob was sealed for another tenant, connection or vendor. */
export async function unsealCredential(
  ring: KeyRing,
  context: CredentialContext,
  blob: Uint8Array<ArrayBuffer>,
): Promise<Credential> {
  const json = JSON.parse(new TextDecoder().decode(await unseal(ring, blob, aad(context))));
  return { clientId: String(json.clientId), secret: String(json.secret) };
}
