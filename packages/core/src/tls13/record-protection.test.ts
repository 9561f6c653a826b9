// RFC 8448, Section 3: the server's protected flight and the client's protected Finished.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { TlsAlert } from "./alerts.ts";
import { RecordCipher } from "./record-protection.ts";

const hex = (s: string) =>
  Uint8Array.from(s.replace(/\s+/g, "").match(/../g) ?? [], (h) => Number.parseInt(h, 16));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

const SERVER_KEYS = { key: hex("3fce516009c21727d0f2e4e86ee403bc"), iv: hex("5d313eb2671276ee13000b30") };
const CLIENT_KEYS = { key: hex("dbfaa693d1762c5b666af5d950258d01"), iv: hex("5bd3c71b836e0b76bb73265f") };

// "{server} send handshake record: payload (657 octets)": EncryptedExtensions..Finished.
const PAYLOAD = `
080000240022000a00140012001d00170018001901000101010201030104001c00024001000000000b0001b9000001b50001b0308201ac30820115a003020102
020102300d06092a864886f70d01010b0500300e310c300a06035504031303727361301e170d3136303733303031323335395a170d3236303733303031323335
395a300e310c300a0603550403130372736130819f300d06092a864886f70d010101050003818d0030818902818100b4bb498f8279303d980836399b36c6988c
0c68de55e1bdb826d3901a2461eafd2de49a91d015abbc9a95137ace6c1af19eaa6af98c7ced43120998e187a80ee0ccb0524b1b018c3e0b63264d449a6d38e2
2a5fda430846748030530ef0461c8ca9d9efbfae8ea6d1d03e2bd193eff0ab9a8002c47428a6d35a8d88d79f7f1e3f0203010001a31a301830090603551d1304
023000300b0603551d0f0404030205a0300d06092a864886f70d01010b05000381810085aad2a0e5b9276b908c65f73a7267170618a54c5f8a7b337d2df7a594
365417f2eae8f8a58c8f8172f9319cf36b7fd6c55b80f21a03015156726096fd335e5e67f2dbf102702e608ccae6bec1fc63a42a99be5c3eb7107c3c54e9b9eb
2bd5203b1c3b84e0a8b2f759409ba3eac9d91d402dcc0cc8f8961229ac9187b42b4de100000f000084080400805a747c5d88fa9bd2e55ab085a61015b7211f82
4cd484145ab3ff52f1fda8477b0b7abc90db78e2d33a5c141a078653fa6bef780c5ea248eeaaa785c4f394cab6d30bbe8d4859ee511f602957b15411ac027671
459e46445c9ea58c181e818e95b8c3fb0bf3278409d3be152a3da5043e063dda65cdf5aea20d53dfacd42f74f3140000209b9b141d906337fbd2cbdce71df4de
da4ab42c309572cb7fffee5454b78f0718`;

// "{server} send handshake record: complete record (679 octets)".
const RECORD = `
17030302a2d1ff334a56f5bff6594a07cc87b580233f500f45e489e7f33af35edf7869fcf40aa40aa2b8ea73f848a7ca07612ef9f945cb960b4068905123ea78
b111b429ba9191cd05d2a389280f526134aadc7fc78c4b729df828b5ecf7b13bd9aefb0e57f271585b8ea9bb355c7c79020716cfb9b1183ef3ab20e37d57a6b9
d7477609aee6e122a4cf51427325250c7d0e509289444c9b3a648f1d71035d2ed65b0e3cdd0cbae8bf2d0b227812cbb360987255cc744110c453baa4fcd61092
8d809810e4b7ed1a8fd991f06aa6248204797e36a6a73b70a2559c09ead686945ba246ab66e5edd8044b4c6de3fcf2a89441ac66272fd8fb330ef8190579b368
4596c960bd596eea520a56a8d650f563aad27409960dca63d3e688611ea5e22f4415cf9538d51a200c27034272968a264ed6540c84838d89f72c24461aad6d26
f59ecaba9acbbb317b66d902f4f292a36ac1b639c637ce343117b659622245317b49eeda0c6258f100d7d961ffb138647e92ea330faeea6dfa31c7a84dc3bd7e
1b7a6c7178af36879018e3f252107f243d243dc7339d5684c8b0378bf30244da8c87c843f5e56eb4c5e8280a2b48052cf93b16499a66db7cca71e4599426f7d4
61e66f99882bd89fc50800becca62d6c74116dbd2972fda1fa80f85df881edbe5a37668936b335583b599186dc5c6918a396fa48a181d6b6fa4f9d62d513afbb
992f2b992f67f8afe67f76913fa388cb5630c8ca01e0c65d11c66a1e2ac4c85977b7c7a6999bbf10dc35ae69f5515614636c0b9b68c19ed2e31c0b3b66763038
ebba42f3b38edc0399f3a9f23faa63978c317fc9fa66a73f60f0504de93b5b845e275592c12335ee340bbc4fddd502784016e4b3be7ef04dda49f4b440a30cb5
d2af939828fd4ae3794e44f94df5a631ede42c1719bfdabf0253fe5175be898e750edc53370d2b`;

// "{client} send handshake record: complete record (58 octets)": the client's Finished.
const CLIENT_FINISHED_RECORD =
  "170303003575ec4dc238cce60b298044a71e219c56cc77b0517fe9b93c7a4bfc44d87f38f80338ac98fc46deb384bd1caeacab6867d726c40546";
const CLIENT_FINISHED = "14000020a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61";

describe("RecordCipher against RFC 8448, Section 3", () => {
  test("seal() encrypts the server flight byte for byte", async () => {
    assert.equal(hex(PAYLOAD).length, 657);
    const sealer = await RecordCipher.create(crypto, SERVER_KEYS);
    const record = await sealer.seal(22, hex(PAYLOAD));
    assert.equal(record.length, 679);
    assert.equal(toHex(record), toHex(hex(RECORD)));
    assert.equal(sealer.sequence, 1);
  });

  test("open() decrypts the server flight and the client Finished", async () => {
    const opener = await RecordCipher.create(crypto, SERVER_KEYS);
    const rec = hex(RECORD);
    const { contentType, content } = await opener.open(rec.subarray(0, 5), rec.subarray(5));
    assert.equal(contentType, 22);
    assert.equal(toHex(content), toHex(hex(PAYLOAD)));
    const client = await RecordCipher.create(crypto, CLIENT_KEYS);
    const fin = hex(CLIENT_FINISHED_RECORD);
    const opened = await client.open(fin.subarray(0, 5), fin.subarray(5));
    assert.equal(toHex(opened.content), CLIENT_FINISHED);
  });

  test("open() rejects a flipped ciphertext, tag or header byte with bad_record_mac and keeps the sequence", async () => {
    for (const at of [0, 5, 300, 678]) {
      const opener = await RecordCipher.create(crypto, SERVER_KEYS);
      const rec = hex(RECORD);
      rec[at] = (rec[at] as number) ^ 1;
      await assert.rejects(opener.open(rec.subarray(0, 5), rec.subarray(5)), (e: unknown) => {
        return e instanceof TlsAlert && e.code === "badRecordMac";
      });
      assert.equal(opener.sequence, 0);
      const good = hex(RECORD);
      await opener.open(good.subarray(0, 5), good.subarray(5)); // still at sequence 0
    }
  });

  test("the nonce is the IV XOR the sequence number", async () => {
    const a = await RecordCipher.create(crypto, SERVER_KEYS);
    const b = await RecordCipher.create(crypto, SERVER_KEYS);
    await a.seal(23, new Uint8Array(1));
    const second = await a.seal(23, new Uint8Array(10));
    await b.seal(23, new Uint8Array(1));
    const opened = await b.open(second.subarray(0, 5), second.subarray(5));
    assert.deepEqual(opened.content, new Uint8Array(10));
    const iv1 = hex("5d313eb2671276ee13000b31");
    const key = await crypto.subtle.importKey("raw", SERVER_KEYS.key, "AES-GCM", false, ["decrypt"]);
    const pt = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: iv1, additionalData: second.subarray(0, 5) },
      key,
      second.subarray(5),
    );
    assert.equal(new Uint8Array(pt).length, 11);
  });

  test("open() strips padding and rejects all-padding and oversized records", async () => {
    const sealer = await RecordCipher.create(crypto, CLIENT_KEYS);
    const opener = await RecordCipher.create(crypto, CLIENT_KEYS);
    // Inner plaintext 01 00 15 00: close_notify (type 21) with one byte of padding.
    const padded = await sealer.seal(0, Uint8Array.of(1, 0, 21));
    const opened = await opener.open(padded.subarray(0, 5), padded.subarray(5));
    assert.deepEqual([opened.contentType, [...opened.content]], [21, [1, 0]]);
    const zeros = await sealer.seal(0, new Uint8Array(3));
    await assert.rejects(
      opener.open(zeros.subarray(0, 5), zeros.subarray(5)),
      (e: unknown) => e instanceof TlsAlert && e.code === "unexpectedMessage",
    );
    await assert.rejects(
      opener.open(Uint8Array.of(23, 3, 3, 0x41, 0x01), new Uint8Array(16384 + 257)),
      (e: unknown) => e instanceof TlsAlert && e.code === "recordOverflow",
    );
    await assert.rejects(sealer.seal(22, new Uint8Array(16385)), RangeError);
  });
});
