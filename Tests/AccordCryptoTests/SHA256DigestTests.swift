import AccordCrypto
import Testing

@Suite("SHA-256 on libcrypto")
struct SHA256DigestTests {
    @Test(
        "known answers from FIPS 180-2",
        arguments: [
            ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
            ),
        ]
    )
    func knownAnswers(message: String, expectedHex: String) {
        #expect(SHA256Digest(hashing: Array(message.utf8)).hex == expectedHex)
    }

    @Test("bytes round-trip and order is bytewise")
    func bytesAndOrder() throws {
        let digest = SHA256Digest(hashing: Array("accord".utf8))
        #expect(SHA256Digest(bytes: digest.bytes) == digest)
        #expect(SHA256Digest(bytes: [UInt8](repeating: 0, count: 31)) == nil)
        let low = try #require(SHA256Digest(bytes: [0x00] + [UInt8](repeating: 0xff, count: 31)))
        let high = try #require(SHA256Digest(bytes: [0x01] + [UInt8](repeating: 0x00, count: 31)))
        #expect(low < high)
    }

    @Test("hex decoding refuses what is not hex")
    func hexDecoding() {
        #expect(HexEncoding.decode("00ffAb") == [0x00, 0xff, 0xab])
        #expect(HexEncoding.decode("abc") == nil)
        #expect(HexEncoding.decode("zz") == nil)
    }
}
