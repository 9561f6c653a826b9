// RFC 8448, Section 3 ("Simple 1-RTT Handshake"): every intermediate value of the key schedule.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { sha256 } from "./hkdf.ts";
import {
  applicationSecrets,
  earlySecret,
  finishedKey,
  finishedVerifyData,
  handshakeSecrets,
  trafficKeys,
} from "./key-schedule.ts";

const hex = (s: string) =>
  Uint8Array.from(s.replace(/\s+/g, "").match(/../g) ?? [], (h) => Number.parseInt(h, 16));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

const V = {
  clientPublic: "99381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c",
  serverPrivate: "b1580eeadf6dd589b8ef4f2d5652578cc810e9980191ec8d058308cea216a21e",
  shared: "8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d",
  clientHello:
    "010000c00303cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7000006130113031302010000910000000b0009000006736572766572ff01000100000a00140012001d0017001800190100010101020103010400230000003300260024001d002099381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c002b0003020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c00024001",
  serverHello:
    "020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e2692800130100002e00330024001d0020c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f002b00020304",
  helloHash: "860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8",
  early: "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a",
  handshake: "1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac",
  cHsTraffic: "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21",
  sHsTraffic: "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38",
  master: "18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919",
  sHsKey: "3fce516009c21727d0f2e4e86ee403bc",
  sHsIv: "5d313eb2671276ee13000b30",
  cHsKey: "dbfaa693d1762c5b666af5d950258d01",
  cHsIv: "5bd3c71b836e0b76bb73265f",
  sFinishedKey: "008d3b66f816ea559f96b537e885c31fc068bf492c652f01f288a1d8cdc19fc8",
  cFinishedKey: "b80ad01015fb2f0bd65ff7d4da5d6bf83f84821d1f87fdc7d3c75b5a7b42d9c4",
  // EncryptedExtensions, Certificate, CertificateVerify as the server sent them.
  serverFlightBeforeFinished:
    "080000240022000a00140012001d00170018001901000101010201030104001c00024001000000000b0001b9000001b50001b0308201ac30820115a003020102020102300d06092a864886f70d01010b0500300e310c300a06035504031303727361301e170d3136303733303031323335395a170d3236303733303031323335395a300e310c300a0603550403130372736130819f300d06092a864886f70d010101050003818d0030818902818100b4bb498f8279303d980836399b36c6988c0c68de55e1bdb826d3901a2461eafd2de49a91d015abbc9a95137ace6c1af19eaa6af98c7ced43120998e187a80ee0ccb0524b1b018c3e0b63264d449a6d38e22a5fda430846748030530ef0461c8ca9d9efbfae8ea6d1d03e2bd193eff0ab9a8002c47428a6d35a8d88d79f7f1e3f0203010001a31a301830090603551d1304023000300b0603551d0f0404030205a0300d06092a864886f70d01010b05000381810085aad2a0e5b9276b908c65f73a7267170618a54c5f8a7b337d2df7a594365417f2eae8f8a58c8f8172f9319cf36b7fd6c55b80f21a03015156726096fd335e5e67f2dbf102702e608ccae6bec1fc63a42a99be5c3eb7107c3c54e9b9eb2bd5203b1c3b84e0a8b2f759409ba3eac9d91d402dcc0cc8f8961229ac9187b42b4de100000f000084080400805a747c5d88fa9bd2e55ab085a61015b7211f824cd484145ab3ff52f1fda8477b0b7abc90db78e2d33a5c141a078653fa6bef780c5ea248eeaaa785c4f394cab6d30bbe8d4859ee511f602957b15411ac027671459e46445c9ea58c181e818e95b8c3fb0bf3278409d3be152a3da5043e063dda65cdf5aea20d53dfacd42f74f3",
  serverFinished: "140000209b9b141d906337fbd2cbdce71df4deda4ab42c309572cb7fffee5454b78f0718",
  clientFinishedVerify: "a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61",
  cApTraffic: "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5",
  sApTraffic: "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643",
  sApKey: "9f02283b6c9c07efc26bb9f2ac92e356",
  sApIv: "cf782b88dd83549aadf1e984",
  cApKey: "17422dda596ed5d9acd890e3c63f5051",
  cApIv: "5b78923dee08579033e523d9",
};

describe("key schedule against RFC 8448, Section 3", () => {
  test("x25519 on WebCrypto gives the RFC's shared secret", async () => {
    const pkcs8 = hex(`302e020100300506032b656e04220420${V.serverPrivate}`);
    const priv = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "X25519" }, false, ["deriveBits"]);
    const pub = await crypto.subtle.importKey("raw", hex(V.clientPublic), { name: "X25519" }, false, []);
    const bits = await crypto.subtle.deriveBits({ name: "X25519", public: pub }, priv, 256);
    assert.equal(toHex(new Uint8Array(bits)), V.shared);
  });

  test("earlySecret() is the RFC's early secret", async () => {
    assert.equal(toHex(await earlySecret(crypto)), V.early);
  });

  test("handshakeSecrets() gives the handshake and traffic secrets", async () => {
    const helloHash = await sha256(crypto, hex(V.clientHello + V.serverHello));
    assert.equal(toHex(helloHash), V.helloHash);
    const hs = await handshakeSecrets(crypto, hex(V.shared), helloHash);
    assert.equal(toHex(hs.handshakeSecret), V.handshake);
    assert.equal(toHex(hs.clientHandshakeTrafficSecret), V.cHsTraffic);
    assert.equal(toHex(hs.serverHandshakeTrafficSecret), V.sHsTraffic);
  });

  test("trafficKeys() gives the handshake keys and IVs", async () => {
    const s = await trafficKeys(crypto, hex(V.sHsTraffic));
    assert.equal(toHex(s.key), V.sHsKey);
    assert.equal(toHex(s.iv), V.sHsIv);
    const c = await trafficKeys(crypto, hex(V.cHsTraffic));
    assert.equal(toHex(c.key), V.cHsKey);
    assert.equal(toHex(c.iv), V.cHsIv);
  });

  test("finishedKey() and finishedVerifyData() give both Finished values", async () => {
    assert.equal(toHex(await finishedKey(crypto, hex(V.sHsTraffic))), V.sFinishedKey);
    assert.equal(toHex(await finishedKey(crypto, hex(V.cHsTraffic))), V.cFinishedKey);
    const t1 = await sha256(crypto, hex(V.clientHello + V.serverHello + V.serverFlightBeforeFinished));
    assert.equal(
      `14000020${toHex(await finishedVerifyData(crypto, hex(V.sHsTraffic), t1))}`,
      V.serverFinished,
    );
    const t2 = await sha256(
      crypto,
      hex(V.clientHello + V.serverHello + V.serverFlightBeforeFinished + V.serverFinished),
    );
    assert.equal(toHex(await finishedVerifyData(crypto, hex(V.cHsTraffic), t2)), V.clientFinishedVerify);
  });

  test("applicationSecrets() gives the master and application traffic secrets and keys", async () => {
    const t2 = await sha256(
      crypto,
      hex(V.clientHello + V.serverHello + V.serverFlightBeforeFinished + V.serverFinished),
    );
    const app = await applicationSecrets(crypto, hex(V.handshake), t2);
    assert.equal(toHex(app.masterSecret), V.master);
    assert.equal(toHex(app.clientApplicationTrafficSecret), V.cApTraffic);
    assert.equal(toHex(app.serverApplicationTrafficSecret), V.sApTraffic);
    const s = await trafficKeys(crypto, app.serverApplicationTrafficSecret);
    assert.deepEqual([toHex(s.key), toHex(s.iv)], [V.sApKey, V.sApIv]);
    const c = await trafficKeys(crypto, app.clientApplicationTrafficSecret);
    assert.deepEqual([toHex(c.key), toHex(c.iv)], [V.cApKey, V.cApIv]);
  });
});
