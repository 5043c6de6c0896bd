import AccordTLS
import AccordTestSupport
import Foundation
import NIOCore

/// Certificates for the TLS tests, minted once per test process with certs-example/make-certs.sh
/// (the operators' own script) into a temporary folder: a consortium CA with acme, globex and
/// initech nodes, plus hostile ones — another CA, expired, not yet valid, revoked.
final class TestPKI: Sendable {
    static let shared: TestPKI = try! TestPKI()

    let directory: String

    private init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("accord-pki-\(UUID().uuidString)").path
        let script = TestCertificates.makeCerts
        let consortium = directory + "/consortium"
        try TestPKI.run(script, ["-o", consortium, "-d", "30", "acme:node1,revoked", "globex:node1", "initech:node1"])
        try TestPKI.run(script, ["-o", consortium, "--start", "20200101000000Z", "--end", "20210101000000Z", "acme:expired"])
        try TestPKI.run(script, ["-o", consortium, "--start", "20450101000000Z", "--end", "20460101000000Z", "acme:future"])
        try TestPKI.run(script, ["-o", consortium, "--revoke", "acme-revoked"])
        try TestPKI.run(script, ["-o", directory + "/rogue", "--ca-name", "Rogue CA", "acme:node1"])
        // Node certificates from the consortium CA that Accord must still refuse: one that is a CA
        // itself, one with an RSA key.
        try TestPKI.run("-c", [
            """
            set -e; cd '\(consortium)'
            printf 'basicConstraints=critical,CA:TRUE\\nextendedKeyUsage=serverAuth,clientAuth\\nsubjectAltName=IP:127.0.0.1\\n' > ca-node.ext
            printf 'basicConstraints=critical,CA:FALSE\\nextendedKeyUsage=serverAuth,clientAuth\\nsubjectAltName=IP:127.0.0.1\\n' > rsa-node.ext
            openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout acme-ca.key -out acme-ca.csr -subj /O=acme/CN=ca 2>/dev/null
            openssl x509 -req -in acme-ca.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile ca-node.ext -out acme-ca.pem 2>/dev/null
            openssl req -new -newkey rsa:2048 -nodes -keyout acme-rsa.key -out acme-rsa.csr -subj /O=acme/CN=rsa 2>/dev/null
            openssl x509 -req -in acme-rsa.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile rsa-node.ext -out acme-rsa.pem 2>/dev/null
            """,
        ])
    }

    var caPath: String { directory + "/consortium/ca.pem" }
    var crlPath: String { directory + "/consortium/crl.pem" }

    /// A node of the consortium CA (or, with `rogue`, of another CA that signs the same names).
    func configuration(
        _ node: String, rogue: Bool = false, crl: Bool = false, handshakeTimeout: TimeInterval = 30
    ) -> TLSConfiguration {
        let folder = directory + (rogue ? "/rogue/" : "/consortium/")
        return TLSConfiguration(
            certificateChainPath: folder + node + ".pem", privateKeyPath: folder + node + ".key",
            trustRootsPath: caPath, crlPath: crl ? crlPath : nil,
            handshakeTimeout: .milliseconds(Int64(handshakeTimeout * 1000))
        )
    }

    func context(_ node: String, rogue: Bool = false, crl: Bool = false, handshakeTimeout: TimeInterval = 30) throws -> TLSContext {
        try TLSContext(configuration: configuration(node, rogue: rogue, crl: crl, handshakeTimeout: handshakeTimeout))
    }

    func path(_ node: String, _ suffix: String) -> String { directory + "/consortium/" + node + suffix }

    private static func run(_ script: String, _ arguments: [String]) throws {
        try TestCertificates.shell(script, arguments)
    }
}
