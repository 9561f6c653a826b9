import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { generateKeyShare, sharedSecret, supportedGroups } from "./key-exchange.ts";

describe("generateKeyShare()", () => {
  for (const [group, name, length] of [
    [0x1d, "x25519", 32],
    [0x17, "secp256r1", 65],
  ] as const) {
    test(`${name}: the private key cannot be exported, the public key is sent raw`, async () => {
      assert.ok((await supportedGroups(crypto)).includes(group));
      const share = await generateKeyShare(crypto, group);
      assert.equal(share.privateKey.extractable, false);
      assert.equal(share.privateKey.type, "private");
      assert.deepEqual(share.privateKey.usages, ["deriveBits"]);
      await assert.rejects(crypto.subtle.exportKey("pkcs8", share.privateKey));
      await assert.rejects(crypto.subtle.exportKey("jwk", share.privateKey));
      assert.equal(share.publicKey.length, length);
      if (group === 0x17) assert.equal(share.publicKey[0], 4);
      const peer = await generateKeyShare(crypto, group);
      const a = await sharedSecret(crypto, share, peer.publicKey);
      const b = await sharedSecret(crypto, peer, share.publicKey);
      assert.equal(a.length, 32);
      assert.deepEqual(a, b);
    });
  }
});
